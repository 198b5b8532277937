/* CONCATENATION (int8 and 16x8 int16): joins its inputs along one axis.
 *
 * TFLM's int8 kernel copies bytes and refuses (in prepare) inputs whose scale or zero point
 * differs from the output's, and a fused activation other than NONE; it accepts up to 6-D.
 * This kernel enforces the same conditions, so the copy is exact. TFLM's int16 kernel copies
 * the values and requires zero points 0; this one requires the same, and equal scales too
 * (TFLM would copy values of another scale unchanged, which the converter never asks for).
 * The int16 path is the same byte copy: prepare counts `inner` in bytes, so one eval serves
 * both element sizes. */
#include "tfl_kernel.h"

typedef struct {
  int32_t axis;  /* non-negative */
  int32_t outer; /* product of the output dims before the axis */
  int32_t inner; /* product of the output dims after the axis, times the element bytes */
} tfl_concat_data;
TFL_OP_DATA_FITS(tfl_concat_data);

static tfl_status concat_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_concat_data *d = (tfl_concat_data *)node->data;
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t axis = 0, i, k, axis_sum = 0;
  int8_t act = 0;
  if (out == NULL || node->input_count < 1 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  if (out->type != TFL_TYPE_INT8 && out->type != TFL_TYPE_INT16) return TFL_ERR_UNSUPPORTED_TYPE;
  if (out->type == TFL_TYPE_INT16 && out->zero_point != 0) return TFL_ERR_BAD_QUANTIZATION;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, 0, &axis));
  TFL_ENSURE(tfl_option_i8(ctx, node, 1, 0, &act));
  if (act != TFL_ACT_NONE) return TFL_ERR_UNSUPPORTED_OPTION;
  if (out->dims_count < 1) return TFL_ERR_BAD_SHAPE;
  if (axis < -(int32_t)out->dims_count || axis >= (int32_t)out->dims_count) return TFL_ERR_BAD_ARGUMENT;
  if (axis < 0) axis += out->dims_count;
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
    if (in->scale != out->scale || in->zero_point != out->zero_point) return TFL_ERR_BAD_QUANTIZATION;
  }
  if (axis_sum != out->dims[axis]) return TFL_ERR_BAD_SHAPE;
  d->axis = axis;
  d->outer = 1;
  d->inner = out->type == TFL_TYPE_INT16 ? 2 : 1;
  for (k = 0; k < axis; ++k) d->outer *= out->dims[k];
  for (k = axis + 1; k < out->dims_count; ++k) d->inner *= out->dims[k];
  return TFL_OK;
}

static tfl_status concat_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_concat_data *d = (const tfl_concat_data *)node->data;
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  uint8_t *dst = (uint8_t *)out->data;
  int32_t o, i;
  for (o = 0; o < d->outer; ++o) {
    for (i = 0; i < node->input_count; ++i) {
      const tfl_tensor *in = tfl_node_input(ctx, node, i);
      const int32_t n = in->dims[d->axis] * d->inner;
      if (n > 0) memcpy(dst, (const uint8_t *)in->data + (size_t)o * (size_t)n, (size_t)n);
      dst += n;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(concatenation, 2, "CONCATENATION", concat_prepare, concat_eval);
