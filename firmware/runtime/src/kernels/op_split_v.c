/* SPLIT_V (int8): inputs are (input, size_splits, axis); parts of the given sizes along
 * the axis. The axis is a constant int32/int64 scalar in [-rank, rank) (TFLM requires it constant).
 * size_splits, when constant, is checked against the outputs: int32/int64 entries, at most one -1
 * (the remainder), the rest non-negative. Bytes are copied unchanged. */
#include "tfl_kernel.h"

typedef struct {
  int32_t axis;
  int32_t outer;
  int32_t inner;
} tfl_split_v_data;
TFL_OP_DATA_FITS(tfl_split_v_data);

/* Element i of a constant int32 or int64 index tensor (model bytes may be unaligned). */
static int64_t split_v_index_at(const tfl_tensor *t, int32_t i) {
  if (t->type == TFL_TYPE_INT64) {
    int64_t v;
    memcpy(&v, (const uint8_t *)t->data + (size_t)i * sizeof(int64_t), sizeof(v));
    return v;
  } else {
    int32_t v;
    memcpy(&v, (const uint8_t *)t->data + (size_t)i * sizeof(int32_t), sizeof(v));
    return v;
  }
}

/* 1 when t is a constant int32/int64 tensor whose byte size matches its element count. */
static int split_v_index_ok(const tfl_tensor *t) {
  const int32_t size = t->type == TFL_TYPE_INT64 ? 8 : 4;
  return t->data != NULL && t->is_constant && t->bytes == tfl_tensor_elements(t) * size;
}

static tfl_status split_v_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_split_v_data *d = (tfl_split_v_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *sizes = tfl_node_input(ctx, node, 1);
  const tfl_tensor *axis_t = tfl_node_input(ctx, node, 2);
  int32_t num = 0, axis, i, k, sum = 0, unknown = -1;
  int64_t axis64;
  tfl_status st;
  if (in == NULL || sizes == NULL || axis_t == NULL || node->input_count != 3 || node->output_count < 1)
    return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if ((axis_t->type != TFL_TYPE_INT32 && axis_t->type != TFL_TYPE_INT64) ||
      (sizes->type != TFL_TYPE_INT32 && sizes->type != TFL_TYPE_INT64))
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (!split_v_index_ok(axis_t)) return TFL_ERR_BAD_BUFFER;
  if (tfl_tensor_elements(axis_t) != 1) return TFL_ERR_BAD_SHAPE;
  if ((st = tfl_option_i32(ctx, node, 0, node->output_count, &num)) != TFL_OK) return st;
  if (num != node->output_count) return TFL_ERR_BAD_ARGUMENT;
  axis64 = split_v_index_at(axis_t, 0);
  if (in->dims_count < 1 || axis64 < -(int64_t)in->dims_count || axis64 >= (int64_t)in->dims_count)
    return TFL_ERR_BAD_ARGUMENT;
  axis = (int32_t)axis64;
  if (axis < 0) axis += in->dims_count;
  for (i = 0; i < num; ++i) {
    const tfl_tensor *out = tfl_node_output(ctx, node, i);
    if (out == NULL) return TFL_ERR_MODEL_INVALID;
    if (out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
    if (out->dims_count != in->dims_count) return TFL_ERR_BAD_SHAPE;
    for (k = 0; k < in->dims_count; ++k) {
      if (k != axis && out->dims[k] != in->dims[k]) return TFL_ERR_BAD_SHAPE;
    }
    if (out->dims[axis] < 0 || out->dims[axis] > in->dims[axis] - sum) return TFL_ERR_BAD_SHAPE;
    sum += out->dims[axis];
  }
  if (sum != in->dims[axis]) return TFL_ERR_BAD_SHAPE;
  if (sizes->is_constant) {
    if (!split_v_index_ok(sizes)) return TFL_ERR_BAD_BUFFER;
    if (tfl_tensor_elements(sizes) != num || sizes->dims_count != 1) return TFL_ERR_BAD_SHAPE;
    for (i = 0; i < num; ++i) {
      const int64_t s = split_v_index_at(sizes, i);
      if (s == -1 && unknown < 0) {
        unknown = i;
        continue;
      }
      if (s != tfl_node_output(ctx, node, i)->dims[axis]) return TFL_ERR_BAD_ARGUMENT;
    }
  }
  d->axis = axis;
  d->outer = 1;
  d->inner = 1;
  for (k = 0; k < axis; ++k) d->outer *= in->dims[k];
  for (k = axis + 1; k < in->dims_count; ++k) d->inner *= in->dims[k];
  return TFL_OK;
}

static tfl_status split_v_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_split_v_data *d = (const tfl_split_v_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const int8_t *src = (const int8_t *)in->data;
  int32_t o, i;
  for (o = 0; o < d->outer; ++o) {
    for (i = 0; i < node->output_count; ++i) {
      tfl_tensor *out = tfl_node_output(ctx, node, i);
      const int32_t n = out->dims[d->axis] * d->inner;
      if (n > 0) memcpy((int8_t *)out->data + (size_t)o * (size_t)n, src, (size_t)n);
      src += n;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(split_v, 102, "SPLIT_V", split_v_prepare, split_v_eval);
