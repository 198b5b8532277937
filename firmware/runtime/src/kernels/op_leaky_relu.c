/* LEAKY_RELU, int8 (TFLM reference arithmetic).
 *
 * Two requantizations: x - input_zero_point >= 0 is rescaled by input_scale / output_scale, a
 * negative one by input_scale * alpha / output_scale (both computed in float32 as TFLM does,
 * then split into Q31 multiplier and shift); the result is offset by the output zero point
 * and saturated to int8. */
#include "tfl_kernel.h"

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t identity_multiplier;
  int32_t identity_shift;
  int32_t alpha_multiplier;
  int32_t alpha_shift;
} tfl_leaky_relu_data;
TFL_OP_DATA_FITS(tfl_leaky_relu_data);

/* Q31 multiplier and shift of any real (negative alpha gives a negative multiplier). */
static void leaky_relu_multiplier(float real, int32_t *multiplier, int32_t *shift) {
  if (real < 0.0f) {
    tfl_quantize_multiplier(-(double)real, multiplier, shift);
    *multiplier = -*multiplier;
  } else if (real > 0.0f) {
    tfl_quantize_multiplier((double)real, multiplier, shift);
  } else {
    *multiplier = 0;
    *shift = 0;
  }
}

static tfl_status leaky_relu_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_leaky_relu_data d;
  float alpha = 0.0f;
  float alpha_real;
  float identity_real;
  tfl_status st;
  if (in == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->quant_count < 1 || out->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f && out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (tfl_tensor_elements(in) != tfl_tensor_elements(out)) return TFL_ERR_BAD_SHAPE;
  st = tfl_option_f32(ctx, node, 0, 0.0f, &alpha); /* LeakyReluOptions.alpha */
  if (st != TFL_OK) return st;
  if (!(alpha > -1e6f && alpha < 1e6f)) return TFL_ERR_UNSUPPORTED_OPTION; /* also NaN */
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  alpha_real = in->scale * alpha;
  alpha_real = alpha_real / out->scale;
  identity_real = in->scale / out->scale;
  leaky_relu_multiplier(alpha_real, &d.alpha_multiplier, &d.alpha_shift);
  leaky_relu_multiplier(identity_real, &d.identity_multiplier, &d.identity_shift);
  /* 255 << shift must stay inside int32. */
  if (d.alpha_shift > 23 || d.identity_shift > 23) return TFL_ERR_BAD_QUANTIZATION;
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

static tfl_status leaky_relu_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = (const int8_t *)in->data;
  int8_t *y = (int8_t *)out->data;
  const int32_t n = tfl_tensor_elements(out);
  tfl_leaky_relu_data d;
  int32_t i;
  memcpy(&d, node->data, sizeof d);
  for (i = 0; i < n; ++i) {
    const int32_t v = x[i] - d.input_zero_point;
    const int32_t scaled =
        v >= 0 ? tfl_multiply_by_quantized_multiplier(v, d.identity_multiplier, d.identity_shift)
               : tfl_multiply_by_quantized_multiplier(v, d.alpha_multiplier, d.alpha_shift);
    y[i] = (int8_t)tfl_clamp(d.output_zero_point + scaled, -128, 127);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(leaky_relu, 98, "LEAKY_RELU", leaky_relu_prepare, leaky_relu_eval);
