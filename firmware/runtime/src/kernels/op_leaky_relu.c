/* LEAKY_RELU, int8 and 16x8 int16 (TFLM reference arithmetic).
 *
 * Two requantizations of v = x - input_zero_point: v >= 0 is rescaled by input_scale /
 * output_scale, v < 0 by input_scale * alpha / output_scale (both computed in double from the
 * float32 parameters, then split into Q31 multiplier and shift); the result is offset by the
 * output zero point and saturated to int8. For a negative alpha TFLM's result is the negated
 * product with |multiplier| (rounding ties toward zero, not away from it as a negative Q31
 * multiplier would): measured against the tflite-micro runtime, matched here. int16 (zero
 * points 0) takes the same steps saturated to int16. */
#include "tfl_kernel_lut8.h"

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t identity_multiplier;
  int32_t identity_shift;
  int32_t alpha_multiplier; /* Q31 of |alpha multiplier| */
  int32_t alpha_shift;
  int32_t alpha_negative; /* 1: negate the scaled value */
  int32_t qmin;           /* the storage type's range */
  int32_t qmax;
} tfl_leaky_relu_data;
TFL_OP_DATA_FITS(tfl_leaky_relu_data);

/* Output for one input value x (stored int8 or int16), saturated to the type's range. */
static int32_t leaky_relu_any(const void *params, int32_t x) {
  const tfl_leaky_relu_data *d = (const tfl_leaky_relu_data *)params;
  const int32_t v = x - d->input_zero_point;
  int32_t scaled;
  if (v >= 0) {
    scaled = tfl_multiply_by_quantized_multiplier(v, d->identity_multiplier, d->identity_shift);
  } else {
    scaled = tfl_multiply_by_quantized_multiplier(v, d->alpha_multiplier, d->alpha_shift);
    if (d->alpha_negative) scaled = -scaled;
  }
  return tfl_clamp(d->output_zero_point + scaled, d->qmin, d->qmax);
}

TFL_DEFINE_MAP16_KERNEL(leaky_relu_int16, 98, "LEAKY_RELU", leaky_relu_prepare, leaky_relu_any);

static tfl_status leaky_relu_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_leaky_relu_data d;
  float alpha = 0.0f;
  double alpha_real;
  int wide = 0;
  TFL_ENSURE(tfl_map_prepare(ctx, node, &in, &out, &wide));
  TFL_ENSURE(tfl_option_f32(ctx, node, 0, 0.0f, &alpha)); /* LeakyReluOptions.alpha */
  if (!(alpha > -1e6f && alpha < 1e6f)) return TFL_ERR_UNSUPPORTED_OPTION; /* also NaN */
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  alpha_real = (double)in->scale * (double)alpha / (double)out->scale;
  d.alpha_negative = alpha_real < 0.0 ? 1 : 0;
  /* zero gives multiplier 0: every negative input maps to the output zero point */
  tfl_quantize_multiplier(alpha_real < 0.0 ? -alpha_real : alpha_real, &d.alpha_multiplier,
                          &d.alpha_shift);
  tfl_quantize_multiplier((double)in->scale / (double)out->scale, &d.identity_multiplier,
                          &d.identity_shift);
  /* 255 << shift (int8), 32768 << shift (int16) must stay inside int32. */
  if (d.alpha_shift > (wide ? 15 : 23) || d.identity_shift > (wide ? 15 : 23))
    return TFL_ERR_BAD_QUANTIZATION;
  d.qmin = wide ? -32768 : -128;
  d.qmax = wide ? 32767 : 127;
  memcpy(node->data, &d, sizeof d);
  if (TFL_WITH_INT16 && wide) node->kernel = &leaky_relu_int16; /* the int16 eval from now on */
  return TFL_OK;
}

/* Output for one input value x (stored int8). */
static int8_t leaky_relu_value(const void *params, int32_t x) {
  return (int8_t)leaky_relu_any(params, x);
}

static tfl_status leaky_relu_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_lut8_eval(ctx, node, leaky_relu_value, 1024);
}

TFL_DEFINE_KERNEL(leaky_relu, 98, "LEAKY_RELU", leaky_relu_prepare, leaky_relu_eval);
