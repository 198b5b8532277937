/* SLICE, int8, 16x8 int16 and int32 (TFLM reference semantics).
 *
 * Copies the box begin[d] .. begin[d] + size[d] of the input (inputs 1 and 2: constant int32 or
 * int64 vectors with one entry per input dim; size -1 means "to the end of the dim"). Bytes are
 * copied as they are: TFLM applies no quantization. Rank up to 5, as in TFLM; the output shape
 * must be the box's. The copy is tfl_strided_copy with the element size in the node data. */
#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

#define TFL_SLICE_MAX_DIMS 5

typedef struct {
  int32_t rank;
  int32_t es;                         /* element bytes: 1 (int8), 2 (int16) or 4 (int32) */
  int32_t base;                       /* input element of the box's first element */
  int32_t stride[TFL_SLICE_MAX_DIMS]; /* input element stride of each dim */
  int32_t size[TFL_SLICE_MAX_DIMS];
} tfl_slice_data;
TFL_OP_DATA_FITS(tfl_slice_data);

static tfl_status slice_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *size = tfl_node_input(ctx, node, 2);
  const tfl_tensor *in, *begin, *out;
  tfl_slice_data d;
  int32_t i;
  int64_t base = 0; /* int64: an empty box may begin at the end of its dims */
  if (size == NULL) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_copy_tensors(ctx, node, TFL_TYPES_INDEX, &in, &begin, &out));
  if (size->type != begin->type) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_index_ok(begin) || !tfl_index_ok(size)) return TFL_ERR_BAD_BUFFER;
  d.rank = (int32_t)in->dims_count;
  if (d.rank < 1 || d.rank > TFL_SLICE_MAX_DIMS || (int32_t)out->dims_count != d.rank ||
      begin->dims_count != 1 || size->dims_count != 1 || tfl_tensor_elements(begin) != d.rank ||
      tfl_tensor_elements(size) != d.rank)
    return TFL_ERR_BAD_SHAPE;
  d.es = tfl_copy_bytes_int32(in->type);
  for (i = d.rank - 1; i >= 0; --i)
    d.stride[i] = i == d.rank - 1 ? 1 : d.stride[i + 1] * in->dims[i + 1];
  for (i = 0; i < d.rank; ++i) {
    const int64_t b = tfl_index_at(begin, i);
    int64_t s = tfl_index_at(size, i);
    if (b < 0 || b > in->dims[i]) return TFL_ERR_BAD_SHAPE;
    if (s == -1) s = in->dims[i] - b;
    if (s < 0 || b + s > in->dims[i] || out->dims[i] != s) return TFL_ERR_BAD_SHAPE;
    base += b * d.stride[i];
    d.size[i] = (int32_t)s;
  }
  d.base = tfl_tensor_elements(out) == 0 ? 0 : (int32_t)base; /* else inside the input */
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status slice_eval(tfl_context *ctx, tfl_node *node) {
  tfl_slice_data d;
  memcpy(&d, node->data, sizeof d);
  tfl_strided_copy(tfl_node_input(ctx, node, 0)->data, tfl_node_output(ctx, node, 0)->data, d.rank,
                   d.size, d.stride, d.base, d.es);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(slice, 65, "SLICE", slice_prepare, slice_eval);
