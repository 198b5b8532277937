/* CONCATENATION (int8, 16x8 int16, int32 and bool): joins its inputs along one axis.
 *
 * TFLM's int8 kernel copies bytes and refuses (in prepare) inputs whose scale or zero point
 * differs from the output's, and a fused activation other than NONE; it accepts up to 6-D.
 * This kernel enforces the same conditions, so the copy is exact. TFLM's int16 kernel copies
 * the values and requires zero points 0; this one requires the same, and equal scales too
 * (TFLM would copy values of another scale unchanged, which the converter never asks for).
 * The int16 path is the same byte copy (tfl_join_eval counts bytes), and so are TFLM's int32
 * and bool forms (shape vectors, masks: not quantized, copied as they are). */
#include "tfl_kernel_split.h"

static tfl_status concat_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_split_data *d = (tfl_split_data *)node->data;
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t axis = 0, i, k, axis_sum = 0;
  int8_t act = 0;
  if (out == NULL || node->input_count < 1 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  if (tfl_copy_bytes_int32(out->type) == 0 && out->type != TFL_TYPE_BOOL)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (out->type == TFL_TYPE_INT16 && out->zero_point != 0) return TFL_ERR_BAD_QUANTIZATION;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, 0, &axis));
  TFL_ENSURE(tfl_option_i8(ctx, node, 1, 0, &act));
  if (act != TFL_ACT_NONE) return TFL_ERR_UNSUPPORTED_OPTION;
  if (out->dims_count < 1) return TFL_ERR_BAD_SHAPE;
  TFL_ENSURE(tfl_axis_normalize(&axis, out->dims_count));
  for (i = 0; i < node->input_count; ++i) {
    const tfl_tensor *in = tfl_node_input(ctx, node, i);
    if (in == NULL) return TFL_ERR_MODEL_INVALID;
    if (in->type != out->type) return TFL_ERR_UNSUPPORTED_TYPE;
    if (in->dims_count != out->dims_count) return TFL_ERR_BAD_SHAPE;
    for (k = 0; k < out->dims_count; ++k) {
      if (k != axis && in->dims[k] != out->dims[k]) return TFL_ERR_BAD_SHAPE;
    }
    if (in->dims[axis] < 0 || in->dims[axis] > out->dims[axis] - axis_sum) return TFL_ERR_BAD_SHAPE;
    axis_sum += in->dims[axis];
    if (in->scale != out->scale || in->zero_point != out->zero_point)
      return TFL_ERR_BAD_QUANTIZATION;
  }
  if (axis_sum != out->dims[axis]) return TFL_ERR_BAD_SHAPE;
  tfl_split_layout(d, out, axis, 0, axis);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(concatenation, 2, "CONCATENATION", concat_prepare, tfl_join_eval);
