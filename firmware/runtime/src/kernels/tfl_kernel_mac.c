/* The dot products and the output run of tfl_mac.h, compiled once for every kernel that uses
 * them (as static functions in the header each kernel linked its own copy). They stay out of
 * line on purpose (TFL_MAC_NOINLINE: see tfl_mac.h), so one definition costs no instruction. */
#include "tfl_mac.h"

/* y[i] = output of acc[i] for channels c0 .. c0 + n - 1. Out of line: with the accumulation
 * done elsewhere, every parameter stays in a register. */
TFL_MAC_NOINLINE void tfl_mac_output_run(const uint32_t *acc, int32_t c0, int32_t n,
                                         const tfl_mac_out *o, int8_t *y) {
  const int32_t *bias = o->bias, *mult = o->mult, *shift = o->shift;
  const int32_t qmask = o->qmask, out_off = o->out_offset, lo = o->act_min, hi = o->act_max;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t c = c0 + i, q = c & qmask;
    y[i] = tfl_mac_output(acc[i], bias, c, mult[q], shift[q], out_off, lo, hi);
  }
}

/* acc[j] += sum_k (x[k] + x_offset) * w[j * w_stride + k] for j = 0..3, k < len. */
TFL_MAC_NOINLINE void tfl_dot4(const int8_t *x, const int8_t *w, int32_t w_stride, int32_t len,
                               int32_t x_offset, uint32_t acc[4]) {
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
  tfl_mac_store4(acc, a0, a1, a2, a3);
}

#if TFL_MAC_DSP
/* acc[j] = expanded patch . w[j * w_stride + 0 .. 4 * blocks) for j = 0..3 (acc is written,
 * not read: callers need not clear it, which at -Os would be a memset call). */
TFL_MAC_NOINLINE void tfl_dot4_patch(const uint32_t *p, const int8_t *w, int32_t w_stride,
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
        : [p] "+r"(p), [wa] "+r"(wa), [wb] "+r"(wb), [n] "+r"(blocks), [a0] "+r"(a0), [a1] "+r"(a1),
          [a2] "+r"(a2), [a3] "+r"(a3), [xe] "=&r"(xe), [xo] "=&r"(xo), [t] "=&r"(t), [u] "=&r"(u)
        : [s] "r"(w_stride)
        : "cc", "memory");
  }
  tfl_mac_store4(acc, a0, a1, a2, a3);
}

#if TFL_MAC_DOT2X2
/* Two pixels x two output channels: p holds, per 4-block of activations, pixel 0's expanded
 * pair (bytes 0/2, bytes 1/3) then pixel 1's; channel j's weights are at w + j * w_stride.
 * acc = {pixel 0 channel 0, pixel 0 channel 1, pixel 1 channel 0, pixel 1 channel 1}, written.
 * Each weight word is loaded and expanded once for both pixels: 19 instructions per 16 MACs. */
TFL_MAC_NOINLINE void tfl_dot2x2_patch(const uint32_t *p, const int8_t *w, int32_t w_stride,
                                       int32_t blocks, uint32_t acc[4]) {
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
          [a10] "+r"(a10), [a11] "+r"(a11), [xe0] "=&r"(xe0), [xo0] "=&r"(xo0), [xe1] "=&r"(xe1),
          [xo1] "=&r"(xo1), [t] "=&r"(t), [u] "=&r"(u)
        : [s] "r"(w_stride)
        : "cc", "memory");
  }
  tfl_mac_store4(acc, a00, a01, a10, a11);
}
#endif
#endif

/* sum_k (x[k] + x_offset) * w[k], k < len, added to acc. */
TFL_MAC_NOINLINE uint32_t tfl_dot1(const int8_t *x, const int8_t *w, int32_t len, int32_t x_offset,
                                   uint32_t acc) {
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
