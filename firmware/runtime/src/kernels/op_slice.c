/* SLICE, int8 (TFLM reference semantics).
 *
 * Copies the box begin[d] .. begin[d] + size[d] of the input (inputs 1 and 2: constant int32 or
 * int64 vectors with one entry per input dim; size -1 means "to the end of the dim"). Bytes are
 * copied as they are: TFLM applies no quantization. Rank up to 5, as in TFLM; the output shape
 * must be the box's. */
#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

#define TFL_SLICE_MAX_DIMS 5

typedef struct {
  int32_t rank;
  int32_t begin[TFL_SLICE_MAX_DIMS];
  int32_t size[TFL_SLICE_MAX_DIMS];
} tfl_slice_data;
TFL_OP_DATA_FITS(tfl_slice_data);

static tfl_status slice_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *size = tfl_node_input(ctx, node, 2);
  const tfl_tensor *in, *begin, *out;
  tfl_slice_data d;
  int32_t i;
  if (size == NULL) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPES_INDEX, &in, &begin, &out));
  if (size->type != begin->type) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_index_ok(begin) || !tfl_index_ok(size)) return TFL_ERR_BAD_BUFFER;
  d.rank = (int32_t)in->dims_count;
  if (d.rank < 1 || d.rank > TFL_SLICE_MAX_DIMS || (int32_t)out->dims_count != d.rank ||
      begin->dims_count != 1 || size->dims_count != 1 || tfl_tensor_elements(begin) != d.rank ||
      tfl_tensor_elements(size) != d.rank)
    return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < d.rank; ++i) {
    const int64_t b = tfl_index_at(begin, i);
    int64_t s = tfl_index_at(size, i);
    if (b < 0 || b > in->dims[i]) return TFL_ERR_BAD_SHAPE;
    if (s == -1) s = in->dims[i] - b;
    if (s < 0 || b + s > in->dims[i] || out->dims[i] != s) return TFL_ERR_BAD_SHAPE;
    d.begin[i] = (int32_t)b;
    d.size[i] = (int32_t)s;
  }
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status slice_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int8_t *y = tfl_output_i8(ctx, node, 0);
  int32_t strides[TFL_SLICE_MAX_DIMS];
  int32_t idx[TFL_SLICE_MAX_DIMS];
  int32_t rows;
  int32_t r;
  int32_t i;
  int32_t last;
  tfl_slice_data d;
  memcpy(&d, node->data, sizeof d);
  if (tfl_tensor_elements(out) == 0) return TFL_OK;
  last = d.rank - 1;
  strides[last] = 1;
  for (i = last; i > 0; --i) strides[i - 1] = strides[i] * in->dims[i];
  rows = 1;
  for (i = 0; i < last; ++i) rows *= d.size[i];
  memset(idx, 0, sizeof idx);
  for (r = 0; r < rows; ++r) { /* one contiguous run of the innermost dim per row */
    int32_t off = d.begin[last];
    for (i = 0; i < last; ++i) off += (d.begin[i] + idx[i]) * strides[i];
    memcpy(y, x + off, (size_t)d.size[last]);
    y += d.size[last];
    for (i = last - 1; i >= 0; --i) {
      if (++idx[i] < d.size[i]) break;
      idx[i] = 0;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(slice, 65, "SLICE", slice_prepare, slice_eval);
