/* Axis check, layout and slice copy of SPLIT and SPLIT_V (see the header). */
#include "tfl_kernel_split.h"

tfl_status tfl_split_axis(tfl_context *ctx, const tfl_node *node, const tfl_tensor *axis_t,
                          const tfl_tensor *in, int32_t *axis) {
  int32_t num = 0;
  int64_t axis64;
  if (!tfl_index_ok(axis_t)) return TFL_ERR_BAD_BUFFER;
  if (tfl_tensor_elements(axis_t) != 1) return TFL_ERR_BAD_SHAPE;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, node->output_count, &num));
  if (num != node->output_count) return TFL_ERR_BAD_ARGUMENT;
  axis64 = tfl_index_at(axis_t, 0);
  if (in->dims_count < 1 || axis64 < -(int64_t)in->dims_count || axis64 >= (int64_t)in->dims_count)
    return TFL_ERR_BAD_ARGUMENT;
  *axis = (int32_t)axis64;
  if (*axis < 0) *axis += in->dims_count;
  return TFL_OK;
}

tfl_status tfl_split_output_check(const tfl_tensor *out, const tfl_tensor *in, int32_t axis) {
  int32_t k;
  if (out == NULL) return TFL_ERR_MODEL_INVALID;
  if (out->type != in->type) return TFL_ERR_UNSUPPORTED_TYPE;
  if (out->dims_count != in->dims_count) return TFL_ERR_BAD_SHAPE;
  for (k = 0; k < in->dims_count; ++k) {
    if (k != axis && out->dims[k] != in->dims[k]) return TFL_ERR_BAD_SHAPE;
  }
  return TFL_OK;
}

void tfl_split_layout(tfl_split_data *d, const tfl_tensor *in, int32_t axis, int32_t input,
                      int32_t part_axis) {
  d->axis = part_axis;
  d->input = input;
  tfl_axis_split(in, axis, &d->outer, &d->inner);
  d->inner *= in->type == TFL_TYPE_BOOL ? 1 : tfl_copy_bytes_int32(in->type);
}

/* Bytes of one slice of a part: its dim along the axis times the inner bytes. */
static int32_t part_slice(const tfl_split_data *d, const tfl_tensor *part) {
  return d->axis < 0 ? d->inner : part->dims[d->axis] * d->inner;
}

tfl_status tfl_split_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_split_data *d = (const tfl_split_data *)node->data;
  const uint8_t *src = (const uint8_t *)tfl_node_input(ctx, node, d->input)->data;
  int32_t o, i;
  for (o = 0; o < d->outer; ++o) {
    for (i = 0; i < node->output_count; ++i) {
      tfl_tensor *out = tfl_node_output(ctx, node, i);
      const int32_t n = part_slice(d, out);
      if (n > 0) memcpy((uint8_t *)out->data + (size_t)o * (size_t)n, src, (size_t)n);
      src += n;
    }
  }
  return TFL_OK;
}

tfl_status tfl_join_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_split_data *d = (const tfl_split_data *)node->data;
  uint8_t *dst = (uint8_t *)tfl_node_output(ctx, node, 0)->data;
  int32_t o, i;
  for (o = 0; o < d->outer; ++o) {
    for (i = 0; i < node->input_count; ++i) {
      const tfl_tensor *in = tfl_node_input(ctx, node, i);
      const int32_t n = part_slice(d, in);
      if (n > 0) memcpy(dst, (const uint8_t *)in->data + (size_t)o * (size_t)n, (size_t)n);
      dst += n;
    }
  }
  return TFL_OK;
}
