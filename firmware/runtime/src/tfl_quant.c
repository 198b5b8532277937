/* Integer arithmetic of TFLite's quantization spec with the rounding TFLM's reference kernels
 * use: requantization is a saturating rounding doubling high multiply followed by a rounding
 * division by a power of two ("double rounding"). Written from the published definitions. */
#include <float.h>
#include <stdint.h>

#include "tfl_kernel.h"

/* No libm: the few rounding helpers are written out (exact for the values they see). */

/* round half away from zero, for |f| of any size; NaN passes through */
float tfl_round_half_away_f(float f) {
  if (!(f > -8388608.0f && f < 8388608.0f)) return f; /* NaN, inf or already an integer (>= 2^23) */
  const float t = (float)(int32_t)f;                  /* truncation toward zero */
  const float frac = f - t;                           /* exact */
  if (frac >= 0.5f) return t + 1.0f;
  if (frac <= -0.5f) return t - 1.0f;
  return t;
}

void tfl_quantize_multiplier(double real, int32_t *quantized, int32_t *shift) {
  if (!(real > 0.0) || real > DBL_MAX) {
    /* zero, negative, NaN or infinite multipliers have no Q31 form: the product is 0 */
    *quantized = 0;
    *shift = 0;
    return;
  }
  /* frexp: real = q * 2^exp with q in [0.5, 1); scaling by 2 is exact in binary floating point */
  int32_t exp = 0;
  double q = real;
  while (q >= 1.0) {
    q *= 0.5;
    ++exp;
  }
  while (q < 0.5) {
    q *= 2.0;
    --exp;
  }
  /* round half away from zero of q * 2^31 (positive, below 2^31: adding 0.5 then truncating is
   * exact up to the case that reaches 2^31, which is handled next) */
  int64_t q_fixed = (int64_t)(q * 2147483648.0 + 0.5);
  if (q_fixed == ((int64_t)1 << 31)) {
    q_fixed /= 2;
    ++exp;
  }
  if (exp < -31) {
    exp = 0;
    q_fixed = 0;
  }
  if (exp > 30) {
    exp = 30;
    q_fixed = INT32_MAX;
  }
  *quantized = (int32_t)q_fixed;
  *shift = exp;
}

int32_t tfl_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  /* C99 division truncates toward zero, which is the definition's behaviour */
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

int32_t tfl_rounding_divide_by_pot(int32_t x, int32_t exponent) {
  if (exponent <= 0) return x;
  if (exponent > 31) exponent = 31;
  int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
  int32_t remainder = x & mask;
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t tfl_multiply_by_quantized_multiplier(int32_t x, int32_t quantized, int32_t shift) {
  int32_t left = shift > 0 ? shift : 0;
  int32_t right = shift > 0 ? 0 : -shift;
  /* x * 2^left wraps like the reference's int32 multiply; done unsigned to stay defined */
  int32_t shifted = (int32_t)((uint32_t)x << left);
  return tfl_rounding_divide_by_pot(tfl_saturating_rounding_doubling_high_mul(shifted, quantized),
                                    right);
}

/* zero_point + round(f / scale) clamped into [lo, hi] (float arithmetic, like the reference). */
static int32_t quantize_clamped(float f, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  float q = tfl_round_half_away_f(f / scale);
  float fz = (float)zero_point;
  if (q + fz <= (float)lo) return lo;
  if (q + fz >= (float)hi) return hi;
  return zero_point + (int32_t)q;
}

tfl_status tfl_activation_range(int32_t activation, float scale, int32_t zero_point, int32_t qmin,
                                int32_t qmax, int32_t *act_min, int32_t *act_max) {
  if (act_min == NULL || act_max == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (!(scale > 0.0f) && activation != TFL_ACT_NONE) return TFL_ERR_BAD_QUANTIZATION;
  switch (activation) {
    case TFL_ACT_NONE:
      *act_min = qmin;
      *act_max = qmax;
      return TFL_OK;
    case TFL_ACT_RELU:
      *act_min = tfl_max(qmin, quantize_clamped(0.0f, scale, zero_point, qmin, qmax));
      *act_max = qmax;
      return TFL_OK;
    case TFL_ACT_RELU6:
      *act_min = tfl_max(qmin, quantize_clamped(0.0f, scale, zero_point, qmin, qmax));
      *act_max = tfl_min(qmax, quantize_clamped(6.0f, scale, zero_point, qmin, qmax));
      return TFL_OK;
    case TFL_ACT_RELU_N1_TO_1:
      *act_min = tfl_max(qmin, quantize_clamped(-1.0f, scale, zero_point, qmin, qmax));
      *act_max = tfl_min(qmax, quantize_clamped(1.0f, scale, zero_point, qmin, qmax));
      return TFL_OK;
    default:
      return TFL_ERR_UNSUPPORTED_OPTION;
  }
}

int32_t tfl_conv_output_size(int32_t padding, int32_t in, int32_t filter, int32_t stride,
                             int32_t dilation) {
  if (stride <= 0 || dilation <= 0 || filter <= 0 || in < 0) return 0;
  int64_t effective = ((int64_t)filter - 1) * dilation + 1;
  int64_t out;
  if (padding == TFL_PADDING_SAME) {
    out = ((int64_t)in + stride - 1) / stride;
  } else if (padding == TFL_PADDING_VALID) {
    out = ((int64_t)in + stride - effective) / stride;
  } else {
    return 0;
  }
  if (out < 0) return 0;
  if (out > INT32_MAX) return INT32_MAX;
  return (int32_t)out;
}

int32_t tfl_conv_padding(int32_t stride, int32_t dilation, int32_t in, int32_t filter,
                         int32_t out) {
  int64_t effective = ((int64_t)filter - 1) * dilation + 1;
  int64_t total = ((int64_t)out - 1) * stride + effective - in;
  if (total < 0) total = 0;
  if (total / 2 > INT32_MAX) return INT32_MAX;
  return (int32_t)(total / 2);
}
