/* Multiply-accumulate inner loops shared by CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED.
 *
 * Accumulators are uint32_t: every addition wraps modulo 2^32 exactly as the kernels' former
 * acc_add() did, so any summation order gives the same bits (the reference order is not needed
 * for exactness). Activations get the input offset (-input zero point) added before the
 * multiply; with int8 activations and an offset in [-127, 128] the sum fits 16 bits, which is
 * what lets the DSP path pack two of them per register.
 *
 * TFL_USE_DSP=1 on a core with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33/M55)
 * uses SXTB16 (two sign-extended bytes per register), SADD16 (offset on both halves) and
 * SMLAD (two 16x16 products added to a 32-bit accumulator, wrapping) / SMLABB, SMLATT (one
 * product from the bottom or top halves). Elsewhere plain C99. */
#ifndef TFL_MAC_H
#define TFL_MAC_H

#include <stdint.h>
#include <string.h>

#include "tfl_kernel.h"

/* The dot products stay out of line: inlined into a kernel's loop nest they leave too few
 * registers for their accumulators and pointers (measured: spills in the inner loop at -Os).
 * They are defined once, in tfl_kernel_mac.c, for every kernel that calls them. */
#if defined(__GNUC__) && !defined(__clang__)
#define TFL_MAC_NOINLINE __attribute__((noinline, unused, optimize("O2")))
#elif defined(__GNUC__) /* clang: no optimize attribute (-Wunknown-attributes) */
#define TFL_MAC_NOINLINE __attribute__((noinline, unused))
#else
#define TFL_MAC_NOINLINE
#endif

/* Kept out of line (no optimisation change): keeps large stack frames of alternative paths
 * from adding up in their caller. */
#if defined(__GNUC__)
#define TFL_MAC_OUTLINE __attribute__((noinline))
#else
#define TFL_MAC_OUTLINE
#endif

/* Writes the four accumulators of a 4-wide dot product (kept in registers during its loop). */
static inline void tfl_mac_store4(uint32_t acc[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                  uint32_t a3) {
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/* Requantization is inlined at each kernel's output loop: a call with eight arguments costs
 * about a third of the function itself. */
#if defined(__GNUC__)
#define TFL_MAC_ALWAYS_INLINE __attribute__((always_inline))
#else
#define TFL_MAC_ALWAYS_INLINE
#endif

#if TFL_USE_DSP && defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#define TFL_MAC_DSP 1
#else
#define TFL_MAC_DSP 0
#endif

/* x * quantized * 2^shift, the same bits as tfl_multiply_by_quantized_multiplier (TFLM's
 * saturating rounding doubling high multiply, then rounding divide by a power of two), without
 * tfl_quant.c's 64-bit division (a libgcc call of ~100 instructions per output on Cortex-M).
 * High multiply: with ab = a * q, the reference computes (ab + nudge) / 2^31 rounded toward
 * zero, nudge = 2^30 for ab >= 0 and 1 - 2^30 below. For ab < 0 that quotient is
 * ceil((ab + 1 - 2^30) / 2^31) = floor((ab + 2^30) / 2^31), so both signs reduce to one
 * arithmetic shift: (ab + 2^30) >> 31 (SMULL, ADDS/ADC, two shifts). Only a = q = INT32_MIN
 * overflows; it saturates as in the reference. tests/test_bench.py compares the two functions
 * on edge cases and 2 million random triples. */
TFL_MAC_ALWAYS_INLINE
static inline int32_t tfl_mac_requantize(int32_t x, int32_t quantized, int32_t shift) {
  /* Right shift r = -shift >= 1, the usual case, in one 64-bit multiply-accumulate. The
   * reference rounds high = floor((P + 2^30) / 2^31) (P = x * q), then high / 2^r half away
   * from zero: floor((high + 2^(r-1) - [high < 0]) / 2^r). Nested floors by positive integers
   * merge: floor((P + 2^30 + (2^(r-1) - neg) * 2^31) / 2^(31 + r)). neg may be taken as the
   * sign of x ^ q: where it differs from [high < 0] (P in [-2^30, 0]) high is 0 and both give
   * 0. The saturating case x = q = INT32_MIN (high 2^31 - 1 in the reference) gives 2^(31 - r)
   * both ways. |sum| < 2^63, so no overflow; the result is the high word >> (r - 1). */
  const uint32_t rm1 = ~(uint32_t)shift; /* r - 1 for shift < 0 */
  if (rm1 <= 30u) {
    const uint32_t c = (1u << rm1) - ((uint32_t)(x ^ quantized) >> 31);
    const uint64_t k = ((uint64_t)(c >> 1) << 32) | (uint64_t)((c << 31) | 0x40000000u);
    const int64_t sum = (int64_t)x * (int64_t)quantized + (int64_t)k;
    return (int32_t)(sum >> 32) >> rm1;
  }
  if (shift < 0) { /* r > 31: the reference clamps the rounding shift to 31 */
    const uint32_t c = (1u << 30) - ((uint32_t)(x ^ quantized) >> 31);
    const uint64_t k = ((uint64_t)(c >> 1) << 32) | (uint64_t)((c << 31) | 0x40000000u);
    const int64_t sum = (int64_t)x * (int64_t)quantized + (int64_t)k;
    return (int32_t)(sum >> 32) >> 30;
  }
  /* shift >= 0: left shift, then the rounding doubling high multiply alone. */
  const int32_t a = (int32_t)((uint32_t)x << shift);
  if (a == INT32_MIN && quantized == INT32_MIN) return INT32_MAX;
  return (int32_t)(((int64_t)a * (int64_t)quantized + ((int64_t)1 << 30)) >> 31);
}

/* bias + requantization + output offset + clamp of one accumulator. */
TFL_MAC_ALWAYS_INLINE
static inline int8_t tfl_mac_output(uint32_t acc, const int32_t *bias, int32_t c, int32_t mult,
                                    int32_t shift, int32_t out_offset, int32_t lo, int32_t hi) {
  if (bias != NULL) acc += (uint32_t)bias[c];
  const uint32_t v = (uint32_t)tfl_mac_requantize((int32_t)acc, mult, shift) + (uint32_t)out_offset;
  return (int8_t)tfl_clamp((int32_t)v, lo, hi);
}

/* Output parameters of a node, for tfl_mac_output_run. */
typedef struct {
  const int32_t *bias; /* NULL: no bias */
  const int32_t *mult, *shift;
  int32_t qmask; /* -1 per-channel, 0 per-tensor (every channel reads index 0) */
  int32_t out_offset, act_min, act_max;
} tfl_mac_out;

/* y[i] = output of acc[i] for channels c0 .. c0 + n - 1. Out of line: with the accumulation
 * done elsewhere, every parameter stays in a register. */
void tfl_mac_output_run(const uint32_t *acc, int32_t c0, int32_t n, const tfl_mac_out *o,
                        int8_t *y);

#if TFL_MAC_DSP

static inline uint32_t tfl_ld32(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4); /* one LDR: Armv7-M/v8-M allow unaligned word loads */
  return v;
}
/* Bytes 0 and 2 sign-extended into the two halfwords. */
static inline uint32_t tfl_sxtb16(uint32_t v) {
  uint32_t r;
  __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(v));
  return r;
}
/* Bytes 1 and 3 sign-extended into the two halfwords. */
static inline uint32_t tfl_sxtb16_ror8(uint32_t v) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}
/* a + bytes 0 and 2 of v sign-extended, per halfword. */
static inline uint32_t tfl_sxtab16(uint32_t a, uint32_t v) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(v));
  return r;
}
/* a + bytes 1 and 3 of v sign-extended, per halfword. */
static inline uint32_t tfl_sxtab16_ror8(uint32_t a, uint32_t v) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
  return r;
}
static inline uint32_t tfl_sadd16(uint32_t a, uint32_t b) {
  uint32_t r;
  __asm__("sadd16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
/* acc + lo(a)*lo(b) + hi(a)*hi(b), wrapping. */
static inline uint32_t tfl_smlad(uint32_t a, uint32_t b, uint32_t acc) {
  uint32_t r;
  __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
static inline uint32_t tfl_smlabb(uint32_t a, uint32_t b, uint32_t acc) {
  uint32_t r;
  __asm__("smlabb %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
static inline uint32_t tfl_smlatt(uint32_t a, uint32_t b, uint32_t acc) {
  uint32_t r;
  __asm__("smlatt %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
}
/* The offset in both halfwords. */
static inline uint32_t tfl_pack_offset(int32_t offset) {
  return ((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16);
}
#endif

/* acc[j] += sum_k (x[k] + x_offset) * w[j * w_stride + k] for j = 0..3, k < len. */
void tfl_dot4(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t len, int32_t x_offset,
              uint32_t acc[4]);

#if TFL_MAC_DSP
/* Activations expanded once and reused by every output channel: for each 4 bytes of x, the
 * word of bytes 0 and 2 then the word of bytes 1 and 3, each as two int16 (x + offset) — the
 * order SXTB16 / SXTB16 ROR 8 give for the weights. The kernels take the buffer from the
 * arena (tfl_scratch_request in prepare; the plan places it), not from the stack. */
#ifndef TFL_MAC_PATCH_BYTES
#define TFL_MAC_PATCH_BYTES 768 /* activations per patch: 768 B int8 + 1536 B expanded */
#endif

static inline void tfl_patch_expand(uint32_t *dst, const int8_t *src, int32_t blocks,
                                    int32_t x_offset) {
  const uint32_t off = tfl_pack_offset(x_offset);
  for (; blocks > 0; --blocks, src += 4) {
    const uint32_t xv = tfl_ld32(src);
    *dst++ = tfl_sxtab16(off, xv);
    *dst++ = tfl_sxtab16_ror8(off, xv);
  }
}

/* acc[j] = expanded patch . w[j * w_stride + 0 .. 4 * blocks) for j = 0..3 (acc is written,
 * not read: callers need not clear it, which at -Os would be a memset call). */
void tfl_dot4_patch(const uint32_t *p, const int8_t *w, int32_t w_stride, int32_t blocks,
                    uint32_t acc[4]);

#if !defined(__clang__) /* 14 register operands: clang's allocator cannot place them */
#define TFL_MAC_DOT2X2 1
/* Two pixels x two output channels: p holds, per 4-block of activations, pixel 0's expanded
 * pair (bytes 0/2, bytes 1/3) then pixel 1's; channel j's weights are at w + j * w_stride.
 * acc = {pixel 0 channel 0, pixel 0 channel 1, pixel 1 channel 0, pixel 1 channel 1}, written.
 * Each weight word is loaded and expanded once for both pixels: 19 instructions per 16 MACs. */
void tfl_dot2x2_patch(const uint32_t *p, const int8_t *w, int32_t w_stride, int32_t blocks,
                      uint32_t acc[4]);
#else
#define TFL_MAC_DOT2X2 0
#endif

/* acc = four output channels of a length-n dot product whose activations src were expanded
 * into p: SMLAD over the 4-blocks, plain C over the last n % 4. */
static inline void tfl_dot4_expanded(const uint32_t *p, const int8_t *src, const int8_t *w,
                                     int32_t w_stride, int32_t n, int32_t x_offset,
                                     uint32_t acc[4]) {
  const int32_t done = n & ~3;
  tfl_dot4_patch(p, w, w_stride, n >> 2, acc);
  if (done < n) tfl_dot4(src + done, w + done, w_stride, n - done, x_offset, acc);
}
#endif

/* One tap of four adjacent depthwise channels (DEPTHWISE_CONV_2D and the ahead-of-time depthwise
 * body, tfl_aot.h): a0..a3 += (x[j] + offset) * w[j] for j = 0..3, with the offset as `off`
 * (tfl_pack_offset) under the DSP kernels and as `in_off` otherwise, in the caller's scope. */
#if TFL_MAC_DSP
#define TFL_MAC_DW_TAP(xp, wp)                                                      \
  do {                                                                              \
    const uint32_t xv_ = tfl_ld32(xp), wv_ = tfl_ld32(wp);                          \
    const uint32_t xe_ = tfl_sxtab16(off, xv_);                                     \
    const uint32_t xo_ = tfl_sxtab16_ror8(off, xv_);                                \
    const uint32_t we_ = tfl_sxtb16(wv_), wo_ = tfl_sxtb16_ror8(wv_);               \
    a0 = tfl_smlabb(xe_, we_, a0); /* channel 0: bottom halves of the even bytes */ \
    a1 = tfl_smlabb(xo_, wo_, a1); /* channel 1: bottom halves of the odd bytes */  \
    a2 = tfl_smlatt(xe_, we_, a2); /* channel 2: top halves of the even bytes */    \
    a3 = tfl_smlatt(xo_, wo_, a3); /* channel 3: top halves of the odd bytes */     \
  } while (0)
#else
#define TFL_MAC_DW_TAP(xp, wp)                    \
  do {                                            \
    const int8_t *xq_ = (xp), *wq_ = (wp);        \
    a0 += (uint32_t)((xq_[0] + in_off) * wq_[0]); \
    a1 += (uint32_t)((xq_[1] + in_off) * wq_[1]); \
    a2 += (uint32_t)((xq_[2] + in_off) * wq_[2]); \
    a3 += (uint32_t)((xq_[3] + in_off) * wq_[3]); \
  } while (0)
#endif

/* sum_k (x[k] + x_offset) * w[k], k < len, added to acc. */
uint32_t tfl_dot1(const int8_t *x, const int8_t *w, int32_t len, int32_t x_offset, uint32_t acc);

#endif
