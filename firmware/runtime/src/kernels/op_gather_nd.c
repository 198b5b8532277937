/* GATHER_ND, int8 params with int32 indices (TFLM reference semantics). The indices' last dim
 * (nd, 1..5, at most the params' rank) holds coordinates into the params' first nd dims; each
 * coordinate tuple selects the slice of the remaining dims, and the output is those slices in
 * order (shape: the indices' dims but the last, then the params' dims from nd on).
 * Like TFLM, a tuple is checked only as a whole: its flat position plus the slice must lie
 * inside the params (eval fails with TFL_ERR_BAD_ARGUMENT otherwise, before any read). */
#include "tfl_kernel_index.h"

#define GATHER_ND_MAX 5

typedef struct {
  int32_t slices;     /* coordinate tuples */
  int32_t slice_size; /* elements per slice */
  int32_t nd;
  int32_t params_size;
  int32_t stride[GATHER_ND_MAX]; /* elements per step of params dim j < nd */
} tfl_gather_nd_data;
TFL_OP_DATA_FITS(tfl_gather_nd_data);

static tfl_status gather_nd_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *params;
  const tfl_tensor *indices;
  const tfl_tensor *out;
  tfl_gather_nd_data d;
  int32_t prank;
  int32_t irank;
  int32_t i;
  int32_t k = 0;
  if (node->input_count != 2 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPE_BIT(TFL_TYPE_INT32), &params,
                                 &indices, &out));
  prank = params->dims_count;
  irank = indices->dims_count;
  if (prank < 1 || irank < 1) return TFL_ERR_BAD_SHAPE;
  if (indices->bytes != tfl_tensor_elements(indices) * 4) return TFL_ERR_BAD_BUFFER;
  memset(&d, 0, sizeof d);
  d.nd = indices->dims[irank - 1];
  if (d.nd < 1 || d.nd > prank || d.nd > GATHER_ND_MAX) return TFL_ERR_BAD_SHAPE;
  if ((int32_t)out->dims_count != irank - 1 + prank - d.nd) return TFL_ERR_BAD_SHAPE;
  d.slices = 1;
  for (i = 0; i < irank - 1; ++i) {
    if (out->dims[k++] != indices->dims[i]) return TFL_ERR_BAD_SHAPE;
    d.slices *= indices->dims[i];
  }
  d.slice_size = 1;
  for (i = d.nd; i < prank; ++i) {
    if (out->dims[k++] != params->dims[i]) return TFL_ERR_BAD_SHAPE;
    d.slice_size *= params->dims[i];
  }
  d.params_size = tfl_tensor_elements(params);
  for (i = d.nd - 1; i >= 0; --i)
    d.stride[i] = i == d.nd - 1 ? d.slice_size : d.stride[i + 1] * params->dims[i + 1];
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status gather_nd_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_gather_nd_data *d = (const tfl_gather_nd_data *)node->data;
  const void *indices = tfl_node_input(ctx, node, 1)->data;
  const tfl_io_i8 io = tfl_io_i8_of(ctx, node); /* x: the params */
  for (int32_t s = 0; s < d->slices; ++s) {
    int64_t from = 0;
    for (int32_t j = 0; j < d->nd; ++j)
      from += (int64_t)tfl_index_i32(indices, (size_t)s * d->nd + j) * d->stride[j];
    if (from < 0 || from + d->slice_size > d->params_size) return TFL_ERR_BAD_ARGUMENT;
    memcpy(io.y + (size_t)s * d->slice_size, io.x + from, (size_t)d->slice_size);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(gather_nd, 107, "GATHER_ND", gather_nd_prepare, gather_nd_eval);
