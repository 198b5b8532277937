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
 * registers for their accumulators and pointers (measured: spills in the inner loop at -Os). */
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
TFL_MAC_NOINLINE static void tfl_mac_output_run(const uint32_t *acc, int32_t c0, int32_t n,
                                                const tfl_mac_out *o, int8_t *y) {
  const int32_t *bias = o->bias, *mult = o->mult, *shift = o->shift;
  const int32_t qmask = o->qmask, out_off = o->out_offset, lo = o->act_min, hi = o->act_max;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t c = c0 + i, q = c & qmask;
    y[i] = tfl_mac_output(acc[i], bias, c, mult[q], shift[q], out_off, lo, hi);
  }
}

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
TFL_MAC_NOINLINE static void tfl_dot4(const int8_t *x, const int8_t *w, int32_t w_stride,
                                      int32_t len, int32_t x_offset, uint32_t acc[4]) {
  const int8_t *w0 = w, *w1 = w + w_stride, *w2 = w1 + w_stride, *w3 = w2 + w_stride;
  uint32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t rest = len;
#if TFL_MAC_DSP
  const uint32_t off = tfl_pack_offset(x_offset);
  for (int32_t blocks = len >> 2; blocks > 0; --blocks) {
    const uint32_t xv = tfl_ld32(x);
    const uint32_t xe = tfl_sxtab16(off, xv);
    const uint32_t xo = tfl_sxtab16_ror8(off, xv);
    uint32_t wv = tfl_ld32(w0);
    a0 = tfl_smlad(xe, tfl_sxtb16(wv), a0);
    a0 = tfl_smlad(xo, tfl_sxtb16_ror8(wv), a0);
    wv = tfl_ld32(w1);
    a1 = tfl_smlad(xe, tfl_sxtb16(wv), a1);
    a1 = tfl_smlad(xo, tfl_sxtb16_ror8(wv), a1);
    wv = tfl_ld32(w2);
    a2 = tfl_smlad(xe, tfl_sxtb16(wv), a2);
    a2 = tfl_smlad(xo, tfl_sxtb16_ror8(wv), a2);
    wv = tfl_ld32(w3);
    a3 = tfl_smlad(xe, tfl_sxtb16(wv), a3);
    a3 = tfl_smlad(xo, tfl_sxtb16_ror8(wv), a3);
    x += 4;
    w0 += 4;
    w1 += 4;
    w2 += 4;
    w3 += 4;
  }
  rest = len & 3;
#endif
  for (; rest > 0; --rest) {
    const int32_t xv = *x++ + x_offset;
    a0 += (uint32_t)(xv * *w0++);
    a1 += (uint32_t)(xv * *w1++);
    a2 += (uint32_t)(xv * *w2++);
    a3 += (uint32_t)(xv * *w3++);
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

#if TFL_MAC_DSP
/* Activations expanded once and reused by every output channel: for each 4 bytes of x, the
 * word of bytes 0 and 2 then the word of bytes 1 and 3, each as two int16 (x + offset) — the
 * order SXTB16 / SXTB16 ROR 8 give for the weights. The kernels keep the buffer on the stack. */
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
TFL_MAC_NOINLINE static void tfl_dot4_patch(const uint32_t *p, const int8_t *w, int32_t w_stride,
                                            int32_t blocks, uint32_t acc[4]) {
  /* Written in assembly: 23 instructions per 16 MACs. The compiler's version of the same loop
   * spills pointers to the stack (13 live registers: patch, two weight bases, stride, count,
   * four accumulators, two activation pairs, two temporaries). Channel j's weights are at
   * w + j * w_stride; wa walks channels 0/1 and wb channels 2/3. */
  const int8_t *wa = w, *wb = w + 2 * w_stride;
  uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  uint32_t xe, xo, t, u;
  if (blocks > 0) {
    __asm__ volatile(
        "1:\n\t"
        "ldrd   %[xe], %[xo], [%[p]], #8\n\t"
        "ldr    %[t], [%[wa], %[s]]\n\t"
        "sxtb16 %[u], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a1], %[xe], %[u], %[a1]\n\t"
        "smlad  %[a1], %[xo], %[t], %[a1]\n\t"
        "ldr    %[t], [%[wa]], #4\n\t"
        "sxtb16 %[u], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a0], %[xe], %[u], %[a0]\n\t"
        "smlad  %[a0], %[xo], %[t], %[a0]\n\t"
        "ldr    %[t], [%[wb], %[s]]\n\t"
        "sxtb16 %[u], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a3], %[xe], %[u], %[a3]\n\t"
        "smlad  %[a3], %[xo], %[t], %[a3]\n\t"
        "ldr    %[t], [%[wb]], #4\n\t"
        "sxtb16 %[u], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a2], %[xe], %[u], %[a2]\n\t"
        "smlad  %[a2], %[xo], %[t], %[a2]\n\t"
        "subs   %[n], %[n], #1\n\t"
        "bne    1b\n\t"
        : [p] "+r"(p), [wa] "+r"(wa), [wb] "+r"(wb), [n] "+r"(blocks), [a0] "+r"(a0),
          [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xe] "=&r"(xe), [xo] "=&r"(xo),
          [t] "=&r"(t), [u] "=&r"(u)
        : [s] "r"(w_stride)
        : "cc", "memory");
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

#if !defined(__clang__) /* 14 register operands: clang's allocator cannot place them */
#define TFL_MAC_DOT2X2 1
/* Two pixels x two output channels: p holds, per 4-block of activations, pixel 0's expanded
 * pair (bytes 0/2, bytes 1/3) then pixel 1's; channel j's weights are at w + j * w_stride.
 * acc = {pixel 0 channel 0, pixel 0 channel 1, pixel 1 channel 0, pixel 1 channel 1}, written.
 * Each weight word is loaded and expanded once for both pixels: 19 instructions per 16 MACs. */
TFL_MAC_NOINLINE static void tfl_dot2x2_patch(const uint32_t *p, const int8_t *w,
                                              int32_t w_stride, int32_t blocks, uint32_t acc[4]) {
  uint32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
  uint32_t xe0, xo0, xe1, xo1, t, u;
  if (blocks > 0) {
    __asm__ volatile(
        "1:\n\t"
        "ldrd   %[xe1], %[xo1], [%[p], #8]\n\t"
        "ldrd   %[xe0], %[xo0], [%[p]], #16\n\t"
        "ldr    %[t], [%[w], %[s]]\n\t"
        "sxtb16 %[u], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a01], %[xe0], %[u], %[a01]\n\t"
        "smlad  %[a01], %[xo0], %[t], %[a01]\n\t"
        "smlad  %[a11], %[xe1], %[u], %[a11]\n\t"
        "smlad  %[a11], %[xo1], %[t], %[a11]\n\t"
        "ldr    %[t], [%[w]], #4\n\t"
        "sxtb16 %[u], %[t]\n\t"
        "sxtb16 %[t], %[t], ror #8\n\t"
        "smlad  %[a00], %[xe0], %[u], %[a00]\n\t"
        "smlad  %[a00], %[xo0], %[t], %[a00]\n\t"
        "smlad  %[a10], %[xe1], %[u], %[a10]\n\t"
        "smlad  %[a10], %[xo1], %[t], %[a10]\n\t"
        "subs   %[n], %[n], #1\n\t"
        "bne    1b\n\t"
        : [p] "+r"(p), [w] "+r"(w), [n] "+r"(blocks), [a00] "+r"(a00), [a01] "+r"(a01),
          [a10] "+r"(a10), [a11] "+r"(a11), [xe0] "=&r"(xe0), [xo0] "=&r"(xo0),
          [xe1] "=&r"(xe1), [xo1] "=&r"(xo1), [t] "=&r"(t), [u] "=&r"(u)
        : [s] "r"(w_stride)
        : "cc", "memory");
  }
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}
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

/* sum_k (x[k] + x_offset) * w[k], k < len, added to acc. */
TFL_MAC_NOINLINE static uint32_t tfl_dot1(const int8_t *x, const int8_t *w, int32_t len,
                                          int32_t x_offset, uint32_t acc) {
  int32_t rest = len;
#if TFL_MAC_DSP
  const uint32_t off = tfl_pack_offset(x_offset);
  for (int32_t blocks = len >> 2; blocks > 0; --blocks) {
    const uint32_t xv = tfl_ld32(x), wv = tfl_ld32(w);
    acc = tfl_smlad(tfl_sxtab16(off, xv), tfl_sxtb16(wv), acc);
    acc = tfl_smlad(tfl_sxtab16_ror8(off, xv), tfl_sxtb16_ror8(wv), acc);
    x += 4;
    w += 4;
  }
  rest = len & 3;
#endif
  for (; rest > 0; --rest) acc += (uint32_t)((*x++ + x_offset) * *w++);
  return acc;
}

#endif
