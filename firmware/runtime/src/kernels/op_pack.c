/* PACK (int8, 16x8 int16 and int32, the same byte copy): stacks N same-shape inputs along a new
 * axis (the int32 form builds shape vectors in models with a dynamic batch).
 *
 * TFLM's int8 PACK copies bytes without looking at quantization, even when an input's scale
 * or zero point differs from the output's (TFLite's BUILTIN_REF kernel refuses such a model
 * in prepare). tinyflash matches TFLM, the reference it verifies against. */
#include "tfl_kernel_split.h"

static tfl_status pack_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_split_data *d = (tfl_split_data *)node->data;
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const tfl_tensor *in0 = tfl_node_input(ctx, node, 0);
  int32_t count = 0, axis = 0, i, k;
  if (out == NULL || in0 == NULL || node->input_count < 1 || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if (tfl_copy_bytes_int32(out->type) == 0) return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, node->input_count, &count));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 0, &axis));
  if (count != node->input_count) return TFL_ERR_BAD_ARGUMENT;
  if (out->dims_count != in0->dims_count + 1) return TFL_ERR_BAD_SHAPE;
  TFL_ENSURE(tfl_axis_normalize(&axis, out->dims_count));
  if (out->dims[axis] != count) return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < count; ++i) {
    const tfl_tensor *in = tfl_node_input(ctx, node, i);
    if (in == NULL) return TFL_ERR_MODEL_INVALID;
    if (in->type != out->type) return TFL_ERR_UNSUPPORTED_TYPE;
    if (!tfl_same_shape(in, in0)) return TFL_ERR_BAD_SHAPE;
  }
  for (k = 0; k < in0->dims_count; ++k) {
    if (out->dims[k < axis ? k : k + 1] != in0->dims[k]) return TFL_ERR_BAD_SHAPE;
  }
  tfl_split_layout(d, out, axis, 0, -1);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(pack, 83, "PACK", pack_prepare, tfl_join_eval);
