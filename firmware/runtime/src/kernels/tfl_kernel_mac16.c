/* The 16x8 dot products of tfl_kernel_mac16.h (DSP kernels only). */
#include "tfl_kernel_mac16.h"

#if TFL_MAC_DSP

/* sum_k x[k] * w[k], k < n, wrapping: the last len % 4 products of a dot product. */
static inline uint32_t mac16_tail(const int16_t *x, const int8_t *w, int32_t n) {
  uint32_t s = 0;
  for (int32_t k = 0; k < n; ++k) s += (uint32_t)(x[k] * w[k]);
  return s;
}

/* Activations x0..x3 of one 4-block into (x0, x2) in u and (x1, x3) in o, x advanced. */
#define MAC16_X_PAIRS                                   \
  "ldr    %[o], [%[x], #4]\n\t"                         \
  "ldr    %[e], [%[x]], #8\n\t"                         \
  "pkhbt  %[u], %[e], %[o], lsl #16\n\t" /* (x0, x2) */ \
  "pkhtb  %[o], %[o], %[e], asr #16\n\t" /* (x1, x3) */

/* One channel's weight word from `addr` (bytes 0/2 then 1/3 sign-extended) into `acc`. */
#define MAC16_CHANNEL(addr, acc)     \
  "ldr    %[t], " addr               \
  "\n\t"                             \
  "sxtb16 %[e], %[t]\n\t"            \
  "smlad  " acc ", %[u], %[e], " acc \
  "\n\t"                             \
  "sxtb16 %[t], %[t], ror #8\n\t"    \
  "smlad  " acc ", %[o], %[t], " acc "\n\t"

TFL_MAC_NOINLINE void tfl_dot4_s16(const int16_t *x, const int8_t *w, int32_t w_stride, int32_t len,
                                   uint32_t acc[4]) {
  /* Assembly for the same reason as tfl_dot4_patch (13 live registers). Per 4-block: two
   * activation words (x0 | x1 << 16, x2 | x3 << 16; unaligned LDR, as int16 rows start at any
   * even address), repacked by PKHBT / PKHTB into (x0, x2) and (x1, x3), the halves SXTB16 and
   * SXTB16 ROR 8 give each weight word: 26 instructions per 16 MACs. wa walks channels 0/1,
   * wb channels 2/3 (channel j at w + j * w_stride). */
  const int8_t *wa = w, *wb = w + 2 * w_stride;
  uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  uint32_t e, o, t, u;
  int32_t blocks = len >> 2;
  if (blocks > 0) {
    /* clang-format off */
    __asm__ volatile(
        "1:\n\t"
        "subs   %[n], %[n], #1\n\t" /* flags kept to BNE: nothing between sets them */
        MAC16_X_PAIRS
        MAC16_CHANNEL("[%[wa], %[s]]", "%[a1]")
        MAC16_CHANNEL("[%[wa]], #4", "%[a0]")
        MAC16_CHANNEL("[%[wb], %[s]]", "%[a3]")
        MAC16_CHANNEL("[%[wb]], #4", "%[a2]")
        "bne    1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [n] "+r"(blocks), [x] "+r"(x),
          [wa] "+r"(wa), [wb] "+r"(wb), [u] "=&r"(u), [o] "=&r"(o), [e] "=&r"(e), [t] "=&r"(t)
        : [s] "r"(w_stride)
        : "cc", "memory");
    /* clang-format on */
  }
  const int32_t rest = len & 3; /* x, wa and wb point past the blocks */
  a0 += mac16_tail(x, wa, rest);
  a1 += mac16_tail(x, wa + w_stride, rest);
  a2 += mac16_tail(x, wb, rest);
  a3 += mac16_tail(x, wb + w_stride, rest);
  tfl_mac_store4(acc, a0, a1, a2, a3);
}

TFL_MAC_NOINLINE void tfl_dot4_s16_wide(const int16_t *x, const int8_t *w, int32_t w_stride,
                                        int32_t len, uint64_t sum[4]) {
  while (len > 0) {
    const int32_t n = len < TFL_MAC16_SPAN ? len : TFL_MAC16_SPAN;
    uint32_t acc[4];
    tfl_mac_store4(acc, 0, 0, 0, 0);
    tfl_dot4_s16(x, w, w_stride, n, acc);
    for (int32_t j = 0; j < 4; ++j) sum[j] += tfl_mac16_widen(acc[j]);
    x += n;
    w += n;
    len -= n;
  }
}

#endif
