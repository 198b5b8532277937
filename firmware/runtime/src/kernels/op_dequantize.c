/* DEQUANTIZE: int8/uint8/int16 -> float32, x = scale * (q - zero_point) computed in double and
 * rounded once to float, as TFLite's reference does. */
#include "tfl_kernel.h"

typedef struct {
  int32_t zero_point;
  float scale;
} dequantize_data;
TFL_OP_DATA_FITS(dequantize_data);

static tfl_status dequantize_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  dequantize_data *d = (dequantize_data *)node->data;
  TFL_ENSURE(tfl_prepare_cast_tensors(ctx, node, &in, &out));
  if (out->type != TFL_TYPE_FLOAT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->type != TFL_TYPE_INT8 && in->type != TFL_TYPE_UINT8 && !TFL_IS_INT16(in)) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  if (in->quant_count != 1) return TFL_ERR_BAD_QUANTIZATION;
  d->zero_point = in->zero_point;
  d->scale = in->scale;
  return TFL_OK;
}

static tfl_status dequantize_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const dequantize_data *d = (const dequantize_data *)node->data;
  const int32_t n = tfl_tensor_elements(in);
  const double scale = (double)d->scale;
  float *y = (float *)out->data;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t q = tfl_load_quantized(in->data, in->type, i);
    y[i] = (float)(scale * (double)(q - d->zero_point));
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(dequantize, 6, "DEQUANTIZE", dequantize_prepare, dequantize_eval);
