/* SPLIT (int8 and 16x8 int16, the same byte copy): inputs are (axis, input); num_splits equal parts along the axis.
 * The axis is a constant int32/int64 scalar (or 1-element vector) in [-rank, rank), as TFLM
 * requires it constant. Bytes are copied unchanged. */
#include "tfl_kernel.h"
#include "tfl_kernel_split.h"

static tfl_status split_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *axis_t = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in = tfl_node_input(ctx, node, 1);
  int32_t num, axis = 0, i;
  if (axis_t == NULL || in == NULL || node->input_count != 2 || node->output_count < 1)
    return TFL_ERR_MODEL_INVALID;
  if (tfl_copy_bytes(in->type) == 0) return TFL_ERR_UNSUPPORTED_TYPE;
  if (axis_t->type != TFL_TYPE_INT32 && axis_t->type != TFL_TYPE_INT64)
    return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(tfl_split_axis(ctx, node, axis_t, in, &axis));
  num = node->output_count;
  if (in->dims[axis] % num != 0) return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < num; ++i) {
    const tfl_tensor *out = tfl_node_output(ctx, node, i);
    TFL_ENSURE(tfl_split_output_check(out, in, axis));
    if (out->dims[axis] != in->dims[axis] / num) return TFL_ERR_BAD_SHAPE;
  }
  tfl_split_layout((tfl_split_data *)node->data, in, axis, 1, axis);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(split, 49, "SPLIT", split_prepare, tfl_split_eval);
