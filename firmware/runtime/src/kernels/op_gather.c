/* GATHER, int8 data with int32 positions (TFLM reference semantics).
 *
 * Input 0: int8 data; input 1: int32 positions (a constant or a model input/activation);
 * GatherOptions.axis (negative counts from the back) and batch_dims. With the data's dims split
 * into batch (the first batch_dims, shared with the positions), outer (up to the axis), the axis
 * and inner (after it), the output is
 *   out[batch][outer][coord][inner] = data[batch][outer][positions[batch][coord]][inner]
 * where coord runs over the positions' dims after batch_dims; its shape is
 * data dims before the axis + position dims after batch_dims + data dims after the axis.
 * Bytes are copied as they are (no quantization). TFLM does not check the positions; tinyflash
 * refuses a position outside [0, axis size) with TFL_ERR_BAD_ARGUMENT instead of reading past
 * the data. */
#include "tfl_kernel_index.h"

typedef struct {
  int32_t batch;
  int32_t outer;
  int32_t axis_size;
  int32_t inner;
  int32_t coords; /* positions per batch */
} tfl_gather_data;
TFL_OP_DATA_FITS(tfl_gather_data);

static tfl_status gather_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *pos, *out;
  int32_t axis = 0;
  int32_t batch_dims = 0;
  int32_t k = 0;
  int64_t n = 1;
  if (node->input_count != 2) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPE_BIT(TFL_TYPE_INT32), &in, &pos,
                                 &out));
  if (pos->is_constant && (pos->data == NULL || pos->bytes != tfl_tensor_elements(pos) * 4))
    return TFL_ERR_BAD_BUFFER;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, 0, &axis));       /* GatherOptions.axis */
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 0, &batch_dims)); /* GatherOptions.batch_dims */
  const int32_t in_rank = (int32_t)in->dims_count;
  const int32_t pos_rank = (int32_t)pos->dims_count;
  if (axis < 0) axis += in_rank;
  if (batch_dims < 0) batch_dims += pos_rank;
  if (axis < 0 || axis >= in_rank || batch_dims < 0 || batch_dims > axis || batch_dims >= in_rank ||
      batch_dims > pos_rank)
    return TFL_ERR_BAD_SHAPE;
  if ((int32_t)out->dims_count != in_rank + pos_rank - 1 - batch_dims) return TFL_ERR_BAD_SHAPE;
  tfl_gather_data d = {.batch = 1, .outer = 1, .inner = 1, .coords = 1};
  for (int32_t i = 0; i < batch_dims; ++i) {
    if (pos->dims[i] != in->dims[i]) return TFL_ERR_BAD_SHAPE;
    d.batch *= in->dims[i];
  }
  for (int32_t i = 0; i < axis; ++i) {
    if (out->dims[k++] != in->dims[i]) return TFL_ERR_BAD_SHAPE;
    if (i >= batch_dims) d.outer *= in->dims[i];
  }
  for (int32_t i = batch_dims; i < pos_rank; ++i) {
    if (out->dims[k++] != pos->dims[i]) return TFL_ERR_BAD_SHAPE;
    n *= pos->dims[i];
  }
  for (int32_t i = axis + 1; i < in_rank; ++i) {
    if (out->dims[k++] != in->dims[i]) return TFL_ERR_BAD_SHAPE;
    d.inner *= in->dims[i];
  }
  if (n > INT32_MAX) return TFL_ERR_BAD_SHAPE;
  d.coords = (int32_t)n;
  d.axis_size = in->dims[axis];
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status gather_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_gather_data *d = (const tfl_gather_data *)node->data;
  const void *p = tfl_node_input(ctx, node, 1)->data;
  tfl_io_i8 io = tfl_io_i8_of(ctx, node);
  for (int32_t b = 0; b < d->batch; ++b) {
    for (int32_t o = 0; o < d->outer; ++o) {
      const int8_t *src = io.x + ((size_t)b * d->outer + o) * d->axis_size * d->inner;
      for (int32_t c = 0; c < d->coords; ++c) {
        const int32_t at = tfl_index_i32(p, (size_t)b * d->coords + c);
        if (at < 0 || at >= d->axis_size) return TFL_ERR_BAD_ARGUMENT;
        memcpy(io.y, src + (size_t)at * d->inner, (size_t)d->inner);
        io.y += d->inner;
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(gather, 36, "GATHER", gather_prepare, gather_eval);
