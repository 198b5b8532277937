/* UNPACK (int8 and 16x8 int16, the same byte copy): splits the input along an axis into dims[axis] outputs of one rank less.
 * Bytes are copied unchanged (as TFLM does). */
#include "tfl_kernel.h"

typedef struct {
  int32_t outer; /* product of input dims before the axis */
  int32_t inner; /* product of input dims after the axis (= one output slice), in bytes */
} tfl_unpack_data;
TFL_OP_DATA_FITS(tfl_unpack_data);

static tfl_status unpack_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_unpack_data *d = (tfl_unpack_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  int32_t num = 0, axis = 0, i, k;
  if (in == NULL || node->input_count != 1 || node->output_count < 1) return TFL_ERR_MODEL_INVALID;
  if (tfl_copy_bytes(in->type) == 0) return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, node->output_count, &num));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 0, &axis));
  if (in->dims_count < 1 || axis < -(int32_t)in->dims_count || axis >= (int32_t)in->dims_count)
    return TFL_ERR_BAD_ARGUMENT;
  if (axis < 0) axis += in->dims_count;
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
  d->outer = 1;
  d->inner = tfl_copy_bytes(in->type); /* counted in bytes: one eval for int8 and int16 */
  for (k = 0; k < axis; ++k) d->outer *= in->dims[k];
  for (k = axis + 1; k < in->dims_count; ++k) d->inner *= in->dims[k];
  return TFL_OK;
}

static tfl_status unpack_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_unpack_data *d = (const tfl_unpack_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const uint8_t *src = (const uint8_t *)in->data;
  int32_t o, i;
  if (d->inner == 0) return TFL_OK;
  for (o = 0; o < d->outer; ++o) {
    for (i = 0; i < node->output_count; ++i) {
      tfl_tensor *out = tfl_node_output(ctx, node, i);
      memcpy((uint8_t *)out->data + (size_t)o * (size_t)d->inner, src, (size_t)d->inner);
      src += d->inner;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(unpack, 88, "UNPACK", unpack_prepare, unpack_eval);
