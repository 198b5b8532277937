/* The 16x8 dot products of the DSP kernels (TFL_MAC_DSP, tfl_mac.h): int16 activations (zero
 * point 0, so two of them are one SMLAD operand as loaded) times int8 weights (two bytes
 * sign-extended per register by SXTB16).
 *
 * Exactness: the portable 16x8 evals sum x * w in 64 bits. Each product has |x * w| <=
 * 32768 * 128 = 2^22, so any TFL_MAC16_SPAN (508) of them sum to less than 508 * 2^22 < 2^31 in
 * magnitude: a 32-bit accumulator (SMLAD wraps modulo 2^32) then holds the exact sum, which is
 * sign-extended into the 64-bit total. Longer sums are cut into spans of at most that many
 * products, so the totals equal the portable ones bit for bit for every depth. */
#ifndef TFL_KERNEL_MAC16_H
#define TFL_KERNEL_MAC16_H

#include <stdint.h>

#include "tfl_mac.h"

#if TFL_MAC_DSP

/* products per 32-bit accumulator: 508 * 2^22 < 2^31 (a multiple of 4 keeps the SMLAD blocks) */
#define TFL_MAC16_SPAN 508

/* acc[j] += sum_k x[k] * w[j * w_stride + k] for j = 0..3, k < len, wrapping modulo 2^32
 * (exact when the accumulated products number at most TFL_MAC16_SPAN). */
void tfl_dot4_s16(const int16_t *x, const int8_t *w, int32_t w_stride, int32_t len,
                  uint32_t acc[4]);

/* sum[j] += sum_k x[k] * w[j * w_stride + k] exactly (64-bit, wrapping), any len >= 0. */
void tfl_dot4_s16_wide(const int16_t *x, const int8_t *w, int32_t w_stride, int32_t len,
                       uint64_t sum[4]);

/* The exact value of a 32-bit accumulator of at most TFL_MAC16_SPAN products, as a 64-bit sum. */
static inline uint64_t tfl_mac16_widen(uint32_t acc) { return (uint64_t)(int64_t)(int32_t)acc; }

/* Zeroes both accumulator sets one store at a time (an initializer is a memset call at -Os). */
static inline void tfl_mac16_clear(uint64_t sum[4], uint32_t acc[4]) {
  tfl_mac_store4(acc, 0, 0, 0, 0);
  sum[0] = 0;
  sum[1] = 0;
  sum[2] = 0;
  sum[3] = 0;
}

#endif
#endif
