/* UNPACK (int8 and 16x8 int16, the same byte copy): splits the input along an axis into dims[axis] outputs of one rank less.
 * Bytes are copied unchanged (as TFLM does). */
#include "tfl_kernel_split.h"

static tfl_status unpack_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_split_data *d = (tfl_split_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  int32_t num = 0, axis = 0, i, k;
  if (in == NULL || node->input_count != 1 || node->output_count < 1) return TFL_ERR_MODEL_INVALID;
  if (tfl_copy_bytes(in->type) == 0) return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, node->output_count, &num));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 0, &axis));
  if (in->dims_count < 1) return TFL_ERR_BAD_ARGUMENT;
  TFL_ENSURE(tfl_axis_normalize(&axis, in->dims_count));
  if (num != node->output_count || in->dims[axis] != num) return TFL_ERR_BAD_ARGUMENT;
  for (i = 0; i < num; ++i) {
    const tfl_tensor *out = tfl_node_output(ctx, node, i);
    if (out == NULL) return TFL_ERR_MODEL_INVALID;
    if (out->type != in->type) return TFL_ERR_UNSUPPORTED_TYPE;
    if (out->dims_count != in->dims_count - 1) return TFL_ERR_BAD_SHAPE;
    for (k = 0; k < out->dims_count; ++k) {
      if (out->dims[k] != in->dims[k < axis ? k : k + 1]) return TFL_ERR_BAD_SHAPE;
    }
  }
  tfl_split_layout(d, in, axis, 0, -1);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(unpack, 88, "UNPACK", unpack_prepare, tfl_split_eval);
