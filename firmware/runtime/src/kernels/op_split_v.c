/* SPLIT_V (int8 and 16x8 int16, the same byte copy): inputs are (input, size_splits, axis); parts of the given sizes along
 * the axis. The axis is a constant int32/int64 scalar in [-rank, rank) (TFLM requires it constant).
 * size_splits, when constant, is checked against the outputs: int32/int64 entries, at most one -1
 * (the remainder), the rest non-negative. Bytes are copied unchanged. */
#include "tfl_kernel.h"
#include "tfl_kernel_split.h"

static tfl_status split_v_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *sizes = tfl_node_input(ctx, node, 1);
  const tfl_tensor *axis_t = tfl_node_input(ctx, node, 2);
  int32_t num, axis = 0, i, sum = 0, unknown = -1;
  if (in == NULL || sizes == NULL || axis_t == NULL || node->input_count != 3 ||
      node->output_count < 1)
    return TFL_ERR_MODEL_INVALID;
  if (tfl_copy_bytes(in->type) == 0) return TFL_ERR_UNSUPPORTED_TYPE;
  if ((axis_t->type != TFL_TYPE_INT32 && axis_t->type != TFL_TYPE_INT64) ||
      (sizes->type != TFL_TYPE_INT32 && sizes->type != TFL_TYPE_INT64))
    return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(tfl_split_axis(ctx, node, axis_t, in, &axis));
  num = node->output_count;
  for (i = 0; i < num; ++i) {
    const tfl_tensor *out = tfl_node_output(ctx, node, i);
    TFL_ENSURE(tfl_split_output_check(out, in, axis));
    if (out->dims[axis] < 0 || out->dims[axis] > in->dims[axis] - sum) return TFL_ERR_BAD_SHAPE;
    sum += out->dims[axis];
  }
  if (sum != in->dims[axis]) return TFL_ERR_BAD_SHAPE;
  if (sizes->is_constant) {
    if (!tfl_index_ok(sizes)) return TFL_ERR_BAD_BUFFER;
    if (tfl_tensor_elements(sizes) != num || sizes->dims_count != 1) return TFL_ERR_BAD_SHAPE;
    for (i = 0; i < num; ++i) {
      const int64_t s = tfl_index_at(sizes, i);
      if (s == -1 && unknown < 0) {
        unknown = i;
        continue;
      }
      if (s != tfl_node_output(ctx, node, i)->dims[axis]) return TFL_ERR_BAD_ARGUMENT;
    }
  }
  tfl_split_layout((tfl_split_data *)node->data, in, axis, 0, axis);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(split_v, 102, "SPLIT_V", split_v_prepare, tfl_split_eval);
