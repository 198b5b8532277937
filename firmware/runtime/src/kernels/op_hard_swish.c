/* HARD_SWISH, int8 (TFLM reference arithmetic): x * relu6(x + 3) / 6 in 16-bit fixed point.
 *
 * prepare: hires_scale = input_scale / 128; the output multiplier is hires_scale / output_scale
 * and the "reluish" multiplier hires_scale / (3 / 32768), divided in double (measured: TFLM's
 * multipliers are the double quotients, not float32 ones), each split into a Q31 value and
 * exponent, then rounded to Q15.
 * eval per element: v = (x - input_zero_point) * 128 (int16);
 *   out_pre  = rounding doubling high mul (v, output multiplier)               [int16]
 *   reluish  = v rescaled by the reluish multiplier (saturating shifts, rounding right
 *              shift), mapped from [-1, 1] to [0, 1]: (reluish + 32768) >> 1
 *   result   = truncating doubling high mul (reluish, out_pre), rounding right shift by
 *              -output exponent, plus output zero point, saturated to int8. */
#include "tfl_kernel_lut8.h"

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t output_multiplier;  /* Q15 */
  int32_t output_exponent;    /* <= 0 */
  int32_t reluish_multiplier; /* Q15 */
  int32_t reluish_exponent;
} tfl_hard_swish_data;
TFL_OP_DATA_FITS(tfl_hard_swish_data);

/* Q31 multiplier -> Q15, rounding, saturating at 32767. */
static int32_t hard_swish_q15(int32_t q31) {
  if (q31 >= 0x7FFFFFFF - 0x8000) return 32767;
  return (q31 + 0x8000) >> 16;
}

/* a * b * 2 / 65536 rounded to nearest (ties away from zero); only -32768 * -32768 saturates. */
static int16_t hard_swish_rounding_high_mul(int16_t a, int16_t b) {
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  if (a == -32768 && b == -32768) return 32767;
  return (int16_t)((ab + nudge) / (1 << 15));
}

/* a * b * 2 / 65536 truncated toward zero; only -32768 * -32768 saturates. */
static int16_t hard_swish_truncating_high_mul(int16_t a, int16_t b) {
  if (a == -32768 && b == -32768) return 32767;
  return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static int16_t hard_swish_saturating_left_shift(int16_t v, int32_t amount) {
  const int32_t r = (int32_t)v * (1 << amount); /* amount <= 15 checked in prepare */
  return (int16_t)tfl_clamp(r, -32768, 32767);
}

/* Rounding (half away from zero) arithmetic right shift of an int16 value by 0..31 bits, with
 * the 16-bit mask and threshold arithmetic of the reference (exponents >= 16 included). */
static int16_t hard_swish_rounding_shift(int16_t x, int32_t exponent) {
  const int16_t mask = (int16_t)(((uint32_t)1 << exponent) - 1u); /* exponent <= 31 */
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
  return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

static tfl_status hard_swish_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_hard_swish_data d;
  float hires_scale;
  double output_real;
  double reluish_real;
  int32_t q31;
  int32_t exponent;
  TFL_ENSURE(tfl_lut8_prepare(ctx, node, &in, &out));
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  hires_scale = (1.0f / 128.0f) * in->scale;
  output_real = (double)hires_scale / (double)out->scale;
  reluish_real = (double)hires_scale / (3.0 / 32768.0);
  tfl_quantize_multiplier(output_real, &q31, &exponent);
  d.output_multiplier = hard_swish_q15(q31);
  d.output_exponent = exponent;
  if (d.output_exponent > 0 || d.output_exponent < -31) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier(reluish_real, &q31, &exponent);
  d.reluish_multiplier = hard_swish_q15(q31);
  d.reluish_exponent = exponent;
  if (d.reluish_exponent > 16 || d.reluish_exponent < -31) return TFL_ERR_BAD_QUANTIZATION;
  return tfl_node_set_data(node, &d, sizeof d);
}

/* Output for one input value x (stored int8). */
static int8_t hard_swish_value(const void *params, int32_t x) {
  const tfl_hard_swish_data *d = (const tfl_hard_swish_data *)params;
  const int16_t v = (int16_t)(x - d->input_zero_point);
  const int16_t hires = (int16_t)(v * (1 << 7));
  const int16_t out_pre = hard_swish_rounding_high_mul(hires, (int16_t)d->output_multiplier);
  int16_t reluish = hires;
  int16_t result;
  if (d->reluish_exponent > 0)
    reluish = hard_swish_saturating_left_shift(reluish, d->reluish_exponent - 1);
  reluish = hard_swish_rounding_high_mul(reluish, (int16_t)d->reluish_multiplier);
  if (d->reluish_exponent > 0) reluish = hard_swish_saturating_left_shift(reluish, 1);
  if (d->reluish_exponent < 0) reluish = hard_swish_rounding_shift(reluish, -d->reluish_exponent);
  reluish = (int16_t)((reluish + (1 << 15)) >> 1);
  result = hard_swish_truncating_high_mul(reluish, out_pre);
  result = hard_swish_rounding_shift(result, -d->output_exponent);
  return (int8_t)tfl_clamp((int16_t)(result + d->output_zero_point), -128, 127);
}

static tfl_status hard_swish_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_lut8_eval(ctx, node, hard_swish_value, 512);
}

TFL_DEFINE_KERNEL(hard_swish, 117, "HARD_SWISH", hard_swish_prepare, hard_swish_eval);
