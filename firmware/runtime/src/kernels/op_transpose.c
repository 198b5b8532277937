/* TRANSPOSE (int8 and 16x8 int16; prepare selects the int16 eval, the same walk over 2-byte
 * elements), up to TFL_MAX_DIMS (6) dims (the TFLM in tflite-micro 2026-10 stops at 5). perm is a constant int32 or int64
 * vector holding a permutation of 0..rank-1; output dim i is input dim perm[i]. Bytes are
 * moved unchanged. (TFLM reads an int64 perm as int32 words and so permutes wrongly for
 * rank > 2; this kernel reads int64 correctly.) */
#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

typedef struct {
  int32_t rank;
  int32_t src_stride[TFL_MAX_DIMS]; /* input element stride of output axis i */
} tfl_transpose_data;
TFL_OP_DATA_FITS(tfl_transpose_data);

/* The eval over int8 (es = 1) or int16 (es = 2) elements. */
static tfl_status transpose_copy(tfl_context *ctx, const tfl_node *node, int32_t es) {
  const tfl_transpose_data *d = (const tfl_transpose_data *)node->data;
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_strided_copy(tfl_node_input(ctx, node, 0)->data, out->data, d->rank, out->dims, d->src_stride,
                   0, es);
  return TFL_OK;
}

static tfl_status transpose_eval(tfl_context *ctx, tfl_node *node) {
  return transpose_copy(ctx, node, 1);
}
static tfl_status transpose_eval16(tfl_context *ctx, tfl_node *node) {
  return transpose_copy(ctx, node, 2);
}

TFL_DEFINE_KERNEL16(transpose_int16, 39, "TRANSPOSE", transpose_prepare, transpose_eval16);

static tfl_status transpose_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_transpose_data *d = (tfl_transpose_data *)node->data;
  const tfl_tensor *in, *perm, *out;
  int32_t in_stride[TFL_MAX_DIMS];
  int32_t seen = 0, i;
  if (node->input_count != 2 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_COPY, TFL_TYPES_INDEX, &in, &perm, &out));
  if (out->type != in->type) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_index_ok(perm)) return TFL_ERR_BAD_BUFFER;
  if (in->dims_count < 1 || in->dims_count != out->dims_count) return TFL_ERR_BAD_SHAPE;
  d->rank = in->dims_count;
  if (perm->dims_count != 1 || perm->dims[0] != d->rank) return TFL_ERR_BAD_SHAPE;
  for (i = d->rank - 1; i >= 0; --i)
    in_stride[i] = i == d->rank - 1 ? 1 : in_stride[i + 1] * in->dims[i + 1];
  for (i = 0; i < d->rank; ++i) {
    const int64_t p = tfl_index_at(perm, i);
    if (p < 0 || p >= d->rank || ((seen >> p) & 1)) return TFL_ERR_BAD_ARGUMENT;
    seen |= (int32_t)1 << p;
    if (out->dims[i] != in->dims[p]) return TFL_ERR_BAD_SHAPE;
    d->src_stride[i] = in_stride[p];
  }
  if (TFL_IS_INT16(in)) node->kernel = &transpose_int16; /* the int16 eval from now on */
  return TFL_OK;
}

TFL_DEFINE_KERNEL(transpose, 39, "TRANSPOSE", transpose_prepare, transpose_eval);
