/* Table-or-direct evaluation of int8 value maps (see the header). */
#include "tfl_kernel_lut8.h"

/* Quantized with positive scales, the same element count. */
static tfl_status map_quant_check(const tfl_tensor *in, const tfl_tensor *out) {
  if (in->quant_count < 1 || out->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f && out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (tfl_tensor_elements(in) != tfl_tensor_elements(out)) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

tfl_status tfl_lut8_prepare(tfl_context *ctx, const tfl_node *node, const tfl_tensor **in,
                            const tfl_tensor **out) {
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, 0, in, NULL, out));
  return map_quant_check(*in, *out);
}

tfl_status tfl_lut8_eval(tfl_context *ctx, const tfl_node *node, tfl_lut8_value value,
                         int32_t min_table) {
  tfl_io_i8 io = tfl_io_i8_of(ctx, node);
  const int32_t n = tfl_tensor_elements(io.out);
  int32_t params[TFL_OP_DATA_WORDS]; /* a local copy: stores through int8_t* may alias node */
  int32_t i;
  memcpy(params, node->data, sizeof params);
  if (n >= min_table) {
    /* big tensors: the 256 possible outputs once, then a table lookup per element */
    int8_t table[256];
    for (i = 0; i < 256; ++i) table[i] = value(params, i - 128);
    for (i = 0; i < n; ++i) io.y[i] = table[io.x[i] + 128];
  } else {
    for (i = 0; i < n; ++i) io.y[i] = value(params, io.x[i]);
  }
  return TFL_OK;
}

tfl_status tfl_map_prepare(tfl_context *ctx, const tfl_node *node, const tfl_tensor **in,
                           const tfl_tensor **out, int *wide) {
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_COPY, 0, in, NULL, out));
  if ((*out)->type != (*in)->type) return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(map_quant_check(*in, *out));
  *wide = TFL_IS_INT16(*in);
  if (*wide && ((*in)->zero_point != 0 || (*out)->zero_point != 0)) return TFL_ERR_BAD_QUANTIZATION;
  return TFL_OK;
}

tfl_status tfl_map16_eval(tfl_context *ctx, const tfl_node *node, tfl_map16_value value) {
  const int16_t *x = (const int16_t *)tfl_node_input(ctx, node, 0)->data;
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int16_t *y = (int16_t *)out->data;
  const int32_t n = tfl_tensor_elements(out);
  int32_t params[TFL_OP_DATA_WORDS]; /* a local copy: stores through int16_t* may alias node */
  int32_t i;
  memcpy(params, node->data, sizeof params);
  for (i = 0; i < n; ++i) y[i] = (int16_t)value(params, x[i]);
  return TFL_OK;
}
