/* RELU6, int8 (TFLM reference semantics).
 *
 * TFLM clamps the stored values to [quantized 0, quantized 6] in the INPUT's quantization and
 * does not requantize (TFLite's converter gives RELU6 one scale and zero point for input and
 * output). Quantized 6 is round(6 / input_scale) + input_zero_point, computed in float32 in
 * prepare as TFLM does, saturated to int8. TFLite's own reference kernel requantizes instead;
 * the two differ only when input and output quantization differ. */
#include "tfl_kernel.h"

typedef struct {
  int32_t lower;
  int32_t upper;
} tfl_relu6_data;
TFL_OP_DATA_FITS(tfl_relu6_data);

static tfl_status relu6_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_relu6_data d;
  float six;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, 0, &in, NULL, &out));
  if (in->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (tfl_tensor_elements(in) != tfl_tensor_elements(out)) return TFL_ERR_BAD_SHAPE;
  memset(&d, 0, sizeof d);
  d.lower = (int8_t)in->zero_point;
  six = 6.0f / in->scale;
  if (six >= 1024.0f) { /* saturates whatever the zero point */
    d.upper = 127;
  } else {
    /* round half away from zero of a positive float below 2^23: exact in float */
    int32_t q = (int32_t)six;
    if (six - (float)q >= 0.5f) ++q;
    d.upper = tfl_clamp(q + in->zero_point, -128, 127);
  }
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status relu6_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int8_t *y = tfl_output_i8(ctx, node, 0);
  const int32_t n = tfl_tensor_elements(out);
  tfl_relu6_data d;
  int32_t i;
  memcpy(&d, node->data, sizeof d);
  for (i = 0; i < n; ++i) {
    const int32_t v = x[i];
    y[i] = (int8_t)(v > d.upper ? d.upper : (v < d.lower ? d.lower : v));
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(relu6, 21, "RELU6", relu6_prepare, relu6_eval);
