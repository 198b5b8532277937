/* STRIDED_SLICE (int8 and 16x8 int16: TFLM copies int16 values the same way; prepare selects
 * the int16 eval, the same walk over 2-byte elements; int32, TFLM's form for shape vectors,
 * the same walk over 4-byte elements).
 *
 * begin, end and strides are constant int32 vectors with one entry per input dim (TFLM reads
 * them as int32 in prepare). Each axis is resolved as TFLM's eval does: a negative index
 * counts from the end, the index is clamped to [0, size] (stride > 0) or [-1, size - 1]
 * (stride < 0), then begin_mask/end_mask replace it with the full range; a shrunk axis takes
 * one element at begin. TFLM ignores ellipsis_mask, new_axis_mask and `offset`; rather than
 * silently compute something else, this kernel refuses models that set them. A shrunk axis
 * whose element does not exist, or a resolved shape that differs from the output tensor, is
 * refused too (TFLM would leave output bytes unwritten). */
#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

typedef struct {
  int32_t rank;
  int32_t base;                 /* input element of the first output element */
  int32_t stride[TFL_MAX_DIMS]; /* input element step along each axis (step * input stride) */
  int32_t count[TFL_MAX_DIMS];  /* elements taken along each axis */
} tfl_strided_slice_data;
TFL_OP_DATA_FITS(tfl_strided_slice_data);

static tfl_status ss_index_vector(const tfl_tensor *t, int32_t rank) {
  if (t == NULL) return TFL_ERR_MODEL_INVALID;
  if (t->type != TFL_TYPE_INT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!t->is_constant || t->data == NULL) return TFL_ERR_BAD_BUFFER;
  if (t->dims_count != 1 || t->dims[0] != rank || t->bytes != rank * (int32_t)sizeof(int32_t))
    return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

/* The index vector inputs (each checked by ss_index_vector in prepare). */
enum { SS_BEGIN = 1, SS_END = 2, SS_STRIDES = 3 };

/* Entry i of index vector input `input`. */
static int32_t ss_at(tfl_context *ctx, const tfl_node *node, int32_t input, int32_t i) {
  return tfl_index_i32(tfl_node_input(ctx, node, input)->data, (size_t)i);
}

static int64_t ss_clamp(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

/* The eval over int8 (es = 1), int16 (es = 2) or int32 (es = 4) elements. */
static tfl_status ss_copy(tfl_context *ctx, const tfl_node *node, int32_t es) {
  const tfl_strided_slice_data *d = (const tfl_strided_slice_data *)node->data;
  tfl_strided_copy(tfl_node_input(ctx, node, 0)->data, tfl_node_output(ctx, node, 0)->data, d->rank,
                   d->count, d->stride, d->base, es);
  return TFL_OK;
}

static tfl_status ss_eval(tfl_context *ctx, tfl_node *node) { return ss_copy(ctx, node, 1); }
static tfl_status ss_eval16(tfl_context *ctx, tfl_node *node) { return ss_copy(ctx, node, 2); }
static tfl_status ss_eval32(tfl_context *ctx, tfl_node *node) { return ss_copy(ctx, node, 4); }

TFL_DEFINE_KERNEL16(ss_int16, 45, "STRIDED_SLICE", ss_prepare, ss_eval16);
static const tfl_kernel ss_int32 = {45, "STRIDED_SLICE", ss_prepare, ss_eval32, NULL};

static tfl_status ss_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_strided_slice_data *d = (tfl_strided_slice_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t begin_mask = 0, end_mask = 0, ellipsis_mask = 0, new_axis_mask = 0, shrink_mask = 0;
  int offset = 0;
  int32_t a, out_dim = 0;
  int64_t in_stride = 1, base = 0;
  int empty = 0;
  int32_t start[TFL_MAX_DIMS];
  if (in == NULL || out == NULL || node->input_count != 4 || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if (in->type != out->type ||
      (in->type != TFL_TYPE_INT8 && !TFL_IS_INT16(in) && in->type != TFL_TYPE_INT32))
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->dims_count < 1) return TFL_ERR_BAD_SHAPE;
  d->rank = in->dims_count;
  for (a = SS_BEGIN; a <= SS_STRIDES; ++a)
    TFL_ENSURE(ss_index_vector(tfl_node_input(ctx, node, a), d->rank));
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, 0, &begin_mask));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 0, &end_mask));
  TFL_ENSURE(tfl_option_i32(ctx, node, 2, 0, &ellipsis_mask));
  TFL_ENSURE(tfl_option_i32(ctx, node, 3, 0, &new_axis_mask));
  TFL_ENSURE(tfl_option_i32(ctx, node, 4, 0, &shrink_mask));
  TFL_ENSURE(tfl_option_bool(ctx, node, 5, 0, &offset));
  if (ellipsis_mask != 0 || new_axis_mask != 0 || offset) return TFL_ERR_UNSUPPORTED_OPTION;
  for (a = 0; a < d->rank; ++a) {
    const int64_t size = in->dims[a];
    const int64_t stride = ss_at(ctx, node, SS_STRIDES, a);
    const int shrink = (shrink_mask >> a) & 1;
    int64_t s = ss_at(ctx, node, SS_BEGIN, a), e, n;
    if (stride == 0) return TFL_ERR_BAD_ARGUMENT;
    if (s < 0) s += size;
    s = stride > 0 ? ss_clamp(s, 0, size) : ss_clamp(s, -1, size - 1);
    if ((begin_mask >> a) & 1) s = stride > 0 ? 0 : size - 1;
    if (shrink) {
      e = s >= size ? s : s + 1;
    } else {
      e = ss_at(ctx, node, SS_END, a);
      if (e < 0) e += size;
      e = stride > 0 ? ss_clamp(e, 0, size) : ss_clamp(e, -1, size - 1);
      if ((end_mask >> a) & 1) e = stride > 0 ? size : -1;
    }
    if (stride > 0)
      n = e > s ? (e - s + stride - 1) / stride : 0;
    else
      n = s > e ? (s - e + (-stride) - 1) / (-stride) : 0;
    if (shrink) {
      if (n != 1) return TFL_ERR_BAD_ARGUMENT;
    } else {
      if (out_dim >= out->dims_count || out->dims[out_dim] != n) return TFL_ERR_BAD_SHAPE;
      ++out_dim;
    }
    start[a] = (int32_t)s;
    d->stride[a] = (int32_t)stride; /* in elements of axis a: times the input stride below */
    d->count[a] = (int32_t)n;
  }
  if (out_dim != out->dims_count) return TFL_ERR_BAD_SHAPE;
  /* to input element offsets; in int64, since an empty slice may start past its axis (then
   * nothing is copied and the offsets are not used) */
  for (a = d->rank - 1; a >= 0; --a) {
    base += (int64_t)start[a] * in_stride;
    /* an axis taking at most one element never steps (its stride may be any int32); otherwise
     * |stride| * (count - 1) < size, so the product stays inside the tensor */
    if (d->count[a] <= 1) d->stride[a] = 0;
    d->stride[a] = (int32_t)(d->stride[a] * in_stride);
    in_stride *= in->dims[a];
    if (d->count[a] == 0) empty = 1;
  }
  d->base = empty ? 0 : (int32_t)base;
  if (TFL_IS_INT16(in)) node->kernel = &ss_int16; /* the int16 eval from now on */
  if (in->type == TFL_TYPE_INT32) node->kernel = &ss_int32;
  return TFL_OK;
}

TFL_DEFINE_KERNEL(strided_slice, 45, "STRIDED_SLICE", ss_prepare, ss_eval);
