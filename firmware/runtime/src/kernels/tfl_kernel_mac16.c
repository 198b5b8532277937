/* The 16x8 dot products of tfl_kernel_mac16.h (DSP kernels only). */
#include "tfl_kernel_mac16.h"

#if TFL_MAC_DSP

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
    __asm__ volatile(
        "1:\n\t"
        "ldr    %[o], [%[x], #4]\n\t"
        "ldr    %[e], [%[x]], #8\n\t"
        "pkhbt  %[u], %[e], %[o], lsl #16\n\t" /* (x0, x2) */
        "pkhtb  %[o], %[o], %[e], asr #16\n\t" /* (x1, x3) */
        "ldr    %[t], [%[wa], %[s]]\n\t"
        "sxtb16 %[e], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a1], %[u], %[e], %[a1]\n\t"
        "smlad  %[a1], %[o], %[t], %[a1]\n\t"
        "ldr    %[t], [%[wa]], #4\n\t"
        "sxtb16 %[e], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a0], %[u], %[e], %[a0]\n\t"
        "smlad  %[a0], %[o], %[t], %[a0]\n\t"
        "ldr    %[t], [%[wb], %[s]]\n\t"
        "sxtb16 %[e], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a3], %[u], %[e], %[a3]\n\t"
        "smlad  %[a3], %[o], %[t], %[a3]\n\t"
        "ldr    %[t], [%[wb]], #4\n\t"
        "sxtb16 %[e], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a2], %[u], %[e], %[a2]\n\t"
        "smlad  %[a2], %[o], %[t], %[a2]\n\t"
        "subs   %[n], %[n], #1\n\t"
        "bne    1b\n\t"
        : [x] "+r"(x), [wa] "+r"(wa), [wb] "+r"(wb), [n] "+r"(blocks), [a0] "+r"(a0), [a1] "+r"(a1),
          [a2] "+r"(a2), [a3] "+r"(a3), [e] "=&r"(e), [o] "=&r"(o), [t] "=&r"(t), [u] "=&r"(u)
        : [s] "r"(w_stride)
        : "cc", "memory");
  }
  const int8_t *w0 = wa, *w2 = wb;
  for (int32_t rest = len & 3; rest > 0; --rest) {
    const int32_t xv = *x++;
    a0 += (uint32_t)(xv * w0[0]);
    a1 += (uint32_t)(xv * w0[w_stride]);
    a2 += (uint32_t)(xv * w2[0]);
    a3 += (uint32_t)(xv * w2[w_stride]);
    ++w0;
    ++w2;
  }
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
