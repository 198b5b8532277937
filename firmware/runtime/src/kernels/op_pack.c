/* PACK (int8 and 16x8 int16, the same byte copy): stacks N same-shape inputs along a new axis.
 *
 * TFLM's int8 PACK copies bytes without looking at quantization, even when an input's scale
 * or zero point differs from the output's (TFLite's BUILTIN_REF kernel refuses such a model
 * in prepare). tinyflash matches TFLM, the reference it verifies against. */
#include "tfl_kernel.h"

typedef struct {
  int32_t outer; /* product of output dims before the axis */
  int32_t inner; /* product of output dims after the axis (= one input slice), in bytes */
} tfl_pack_data;
TFL_OP_DATA_FITS(tfl_pack_data);

static tfl_status pack_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_pack_data *d = (tfl_pack_data *)node->data;
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const tfl_tensor *in0 = tfl_node_input(ctx, node, 0);
  int32_t count = 0, axis = 0, i, k;
  if (out == NULL || in0 == NULL || node->input_count < 1 || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if (tfl_copy_bytes(out->type) == 0) return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, node->input_count, &count));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 0, &axis));
  if (count != node->input_count) return TFL_ERR_BAD_ARGUMENT;
  if (out->dims_count != in0->dims_count + 1) return TFL_ERR_BAD_SHAPE;
  if (axis < -(int32_t)out->dims_count || axis >= (int32_t)out->dims_count) return TFL_ERR_BAD_ARGUMENT;
  if (axis < 0) axis += out->dims_count;
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
  d->outer = 1;
  d->inner = tfl_copy_bytes(out->type); /* counted in bytes: one eval for int8 and int16 */
  for (k = 0; k < axis; ++k) d->outer *= out->dims[k];
  for (k = axis + 1; k < out->dims_count; ++k) d->inner *= out->dims[k];
  return TFL_OK;
}

static tfl_status pack_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_pack_data *d = (const tfl_pack_data *)node->data;
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  uint8_t *dst = (uint8_t *)out->data;
  int32_t o, i;
  if (d->inner == 0) return TFL_OK;
  for (o = 0; o < d->outer; ++o) {
    for (i = 0; i < node->input_count; ++i) {
      const tfl_tensor *in = tfl_node_input(ctx, node, i);
      memcpy(dst, (const uint8_t *)in->data + (size_t)o * (size_t)d->inner, (size_t)d->inner);
      dst += d->inner;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(pack, 83, "PACK", pack_prepare, pack_eval);
