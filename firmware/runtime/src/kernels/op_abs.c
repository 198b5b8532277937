/* ABS, int8 (TFLM reference arithmetic).
 *
 *   v = |x - input_zero_point|
 *   out = v + output_zero_point                                    (same scale in and out)
 *   out = requantize(v, input_scale / output_scale) + output_zero_point   (otherwise)
 * saturated to int8; the scale quotient is computed in float, then split into a Q31 multiplier
 * and a shift, as TFLM does. */
#include "tfl_kernel.h"

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t rescale; /* 0: the scales are equal, no multiply */
  int32_t multiplier;
  int32_t shift;
} tfl_abs_data;
TFL_OP_DATA_FITS(tfl_abs_data);

static tfl_status abs_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_abs_data d;
  if (in == NULL || out == NULL || node->input_count != 1 || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->quant_count < 1 || out->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (!tfl_same_shape(in, out)) return TFL_ERR_BAD_SHAPE;
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  d.rescale = in->scale != out->scale;
  if (d.rescale) {
    const float ratio = in->scale / out->scale;
    if (!(ratio > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
    tfl_quantize_multiplier((double)ratio, &d.multiplier, &d.shift);
  }
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

static tfl_status abs_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = (const int8_t *)in->data;
  int8_t *y = (int8_t *)out->data;
  const int32_t n = tfl_tensor_elements(in);
  int32_t i;
  tfl_abs_data d;
  memcpy(&d, node->data, sizeof d);
  for (i = 0; i < n; ++i) {
    const int32_t diff = (int32_t)x[i] - d.input_zero_point;
    const int32_t v = diff < 0 ? -diff : diff;
    const int64_t r = (int64_t)(d.rescale ? tfl_multiply_by_quantized_multiplier(v, d.multiplier,
                                                                                d.shift)
                                          : v) +
                      d.output_zero_point; /* int64: defined for any requantized value */
    y[i] = (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(abs, 101, "ABS", abs_prepare, abs_eval);
