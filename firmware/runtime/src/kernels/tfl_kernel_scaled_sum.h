/* ADD_N and CUMSUM, int8: sums of values with one quantization, in TFLM's ADD arithmetic.
 *
 * Each term (x - zero_point) is shifted left by 20 and multiplied by 0.5 (the input scale over
 * twice the input scale, as a Q31 multiplier with TFLM's double rounding); the int32 sum is
 * rescaled by 2 * input_scale / (2^20 * output_scale), the output zero point added and the result
 * saturated to int8. TFLM starts each sum from the rescaled -zero_point rather than from 0, so
 * tfl_scaled_sum_start() gives that first term. Sums wrap as two's complement would (uint32_t:
 * no signed overflow), as TFLM's int32 additions do on the machines it runs on. */
#ifndef TFL_KERNEL_SCALED_SUM_H
#define TFL_KERNEL_SCALED_SUM_H

#include "tfl_kernel.h"

typedef struct {
  int32_t input_offset; /* -zero_point */
  int32_t output_offset;
  int32_t input_multiplier;
  int32_t input_shift;
  int32_t output_multiplier;
  int32_t output_shift;
} tfl_scaled_sum;

/* int8 input and output, quantized with positive scales, multipliers below one. */
TFL_MUST_CHECK tfl_status tfl_scaled_sum_prepare(const tfl_tensor *in, const tfl_tensor *out,
                                                 tfl_scaled_sum *params);

/* The rescaled term of one stored int8 value. |x - zero_point| <= 255, so the shift and the
 * Q31 multiply stay inside int32. */
static inline uint32_t tfl_scaled_sum_term(const tfl_scaled_sum *p, int32_t x) {
  return (uint32_t)tfl_multiply_by_quantized_multiplier((p->input_offset + x) * (1 << 20),
                                                        p->input_multiplier, p->input_shift);
}

/* TFLM's initial accumulator: input_offset rescaled like a term, i.e. the term of the stored
 * value 0. */
static inline uint32_t tfl_scaled_sum_start(const tfl_scaled_sum *p) {
  return tfl_scaled_sum_term(p, 0);
}

/* The int8 output of a sum. */
int8_t tfl_scaled_sum_output(const tfl_scaled_sum *p, uint32_t sum);

#endif
