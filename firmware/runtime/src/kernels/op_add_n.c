/* ADD_N, int8 (TFLM reference arithmetic): the element-wise sum of N >= 2 inputs of one shape
 * and one quantization, in the arithmetic of tfl_kernel_scaled_sum.h (TFLM's sum starts from
 * the rescaled -zero_point, so that term is in every output). */
#include "tfl_kernel_scaled_sum.h"

TFL_OP_DATA_FITS(tfl_scaled_sum);

static tfl_status add_n_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *first = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_scaled_sum d;
  int32_t i;
  if (first == NULL || out == NULL || node->input_count < 2 || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_scaled_sum_prepare(first, out, &d));
  if (!tfl_same_shape(first, out)) return TFL_ERR_BAD_SHAPE;
  for (i = 1; i < node->input_count; ++i) {
    const tfl_tensor *in = tfl_node_input(ctx, node, i);
    if (in == NULL) return TFL_ERR_MODEL_INVALID;
    if (in->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
    if (!tfl_same_shape(first, in)) return TFL_ERR_BAD_SHAPE;
    if (in->quant_count < 1 || in->scale != first->scale || in->zero_point != first->zero_point)
      return TFL_ERR_BAD_QUANTIZATION;
  }
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

static tfl_status add_n_eval(tfl_context *ctx, tfl_node *node) {
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int8_t *y = (int8_t *)out->data;
  const int32_t n = tfl_tensor_elements(out);
  tfl_scaled_sum d;
  int32_t e;
  int32_t k;
  memcpy(&d, node->data, sizeof d);
  for (e = 0; e < n; ++e) {
    uint32_t sum = tfl_scaled_sum_start(&d);
    for (k = 0; k < node->input_count; ++k)
      sum += tfl_scaled_sum_term(&d, ((const int8_t *)tfl_node_input(ctx, node, k)->data)[e]);
    y[e] = tfl_scaled_sum_output(&d, sum);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(add_n, 106, "ADD_N", add_n_prepare, add_n_eval);
