/* Fixed-point pieces shared by LOGISTIC and TANH (TFLM reference arithmetic, the gemmlowp
 * fixed-point functions TFLM uses): raw int32 values, their Qm.n format named in comments.
 *
 * Both kernels rescale the input to Q4.27 (real multiplier input_scale * 2^27 as a Q31 value
 * and a left shift), saturate inputs with |x - zero_point| >= the range radius to -128 / 127,
 * and compute their function of the Q4.27 value from exp on negative values and 1 / (1 + a). */
#ifndef TFL_KERNEL_FIXEDPOINT_H
#define TFL_KERNEL_FIXEDPOINT_H

#include <limits.h>

#include "tfl_kernel.h"

/* Node data of LOGISTIC and TANH. */
typedef struct {
  int32_t input_zero_point;
  int32_t input_range_radius;
  int32_t input_multiplier;
  int32_t input_left_shift;
} tfl_q4_input;
TFL_OP_DATA_FITS(tfl_q4_input);

static inline int32_t tfl_fx_wrap_add(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t tfl_fx_wrap_sub(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a - (uint32_t)b);
}
/* Leading zero bits of x (32 for 0). */
static inline int32_t tfl_fx_clz(uint32_t x) {
  int32_t n = 0;
  if (x == 0) return 32;
  while ((x & 0x80000000u) == 0) {
    x <<= 1;
    ++n;
  }
  return n;
}
/* x / 2^exponent (1 <= exponent <= 31), rounded half away from zero. */
static inline int32_t tfl_fx_shr(int32_t x, int32_t exponent) {
  const int64_t biased = (int64_t)x + ((int64_t)1 << (exponent - 1)) - (x < 0 ? 1 : 0);
  return (int32_t)(biased >> exponent);
}
/* x * 2^exponent (exponent >= 1), saturating. */
static inline int32_t tfl_fx_saturating_shl(int32_t x, int32_t exponent) {
  const int32_t threshold = (int32_t)((1U << (31 - exponent)) - 1U);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return x * (1 << exponent);
}

/* About 1 / (1 + exp(a)) in Q2.29 for a <= 0 in Q4.27 (LOGISTIC) or Q5.26 (TANH): exp(a) in
 * Q0.31, then three Newton-Raphson steps. */
int32_t tfl_fx_one_over_one_plus_exp_q4(int32_t a);
int32_t tfl_fx_one_over_one_plus_exp_q5(int32_t a);

/* exp(a) in Q0.31 for a <= 0 given in Q5.26 (LOG_SOFTMAX). */
int32_t tfl_fx_exp_negative_q5(int32_t a);

/* ln(x) in Q5.26 for x >= 1 given in Q12.19 (LOG_SOFTMAX's log of the sum of exps): x split into
 * a power of two and a mantissa near 1, ln of the mantissa by a rational approximation (the
 * division by Newton-Raphson), as TFLM's log_x_for_x_greater_than_or_equal_to_1. */
int32_t tfl_fx_log_q12_to_q5(int32_t x);

/* About 1 / (1 + a) in Q2.29 for a in [0, 1] given in Q0.31 (gemmlowp's Newton-Raphson
 * division, three steps; DIV's reciprocal). */
int32_t tfl_fx_one_over_one_plus(int32_t a);

/* Validates the input's scale and the element counts, then writes the tfl_q4_input of `in`
 * to node->data. The callers check presence, types and quantization counts first. */
TFL_MUST_CHECK tfl_status tfl_q4_input_prepare(const tfl_tensor *in, const tfl_tensor *out,
                                               tfl_node *node);

/* The int8 result for an in-range input, given as its Q4.27 value. */
typedef int8_t (*tfl_q4_output)(int32_t q4);
/* y[i] for the n stored int8 inputs x[i]: saturated, or `f` of the Q4.27 value (for n > 256
 * through a table of the 256 possible results). */
void tfl_q4_map(const tfl_q4_input *d, tfl_q4_output f, const int8_t *x, int8_t *y, int32_t n);
/* The eval of LOGISTIC and TANH: tfl_q4_map of input 0 into output 0 with the node's
 * tfl_q4_input. Returns TFL_OK. */
TFL_MUST_CHECK tfl_status tfl_q4_eval(tfl_context *ctx, const tfl_node *node, tfl_q4_output f);

#endif
