/* MAXIMUM, int8 (TFLM reference semantics).
 *
 * The larger of the two raw int8 values, element by element, with no requantization: TFLite's
 * converter gives both inputs and the output one scale and zero point, and TFLM compares the
 * stored values as they are. Inputs broadcast NumPy-style up to TFL_MAX_DIMS. */
#include "tfl_kernel.h"

/* ---- broadcasting walk (same helper in each binary elementwise kernel: one op per file) -- */

/* Output dims of a broadcasting binary op, innermost first, with size-1 dims dropped and
 * neighbouring dims that broadcast the same way merged. stride1/stride2: element step of
 * each input along that dim (0 where it broadcasts). */
typedef struct {
  int32_t count;
  int32_t dims[TFL_MAX_DIMS];
  int32_t stride1[TFL_MAX_DIMS];
  int32_t stride2[TFL_MAX_DIMS];
} maximum_walk;

static int32_t maximum_dim_from_back(const tfl_tensor *t, int32_t i) {
  return i < (int32_t)t->dims_count ? t->dims[t->dims_count - 1 - i] : 1;
}

/* TFL_OK when the output's shape is the broadcast of the inputs' shapes. */
static tfl_status maximum_check_broadcast(const tfl_tensor *a, const tfl_tensor *b,
                                      const tfl_tensor *out) {
  const int32_t rank = tfl_max(a->dims_count, b->dims_count);
  int32_t i;
  if ((int32_t)out->dims_count != rank) return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < rank; ++i) {
    const int32_t da = maximum_dim_from_back(a, i);
    const int32_t db = maximum_dim_from_back(b, i);
    const int32_t d = maximum_dim_from_back(out, i);
    if (da != db && da != 1 && db != 1) return TFL_ERR_BAD_SHAPE;
    if (d != (da == 1 ? db : da)) return TFL_ERR_BAD_SHAPE;
  }
  return TFL_OK;
}

static void maximum_make_walk(const tfl_tensor *a, const tfl_tensor *b, const tfl_tensor *out,
                          maximum_walk *w) {
  int32_t contiguous_a = 1;
  int32_t contiguous_b = 1;
  int32_t i;
  w->count = 0;
  for (i = 0; i < (int32_t)out->dims_count; ++i) {
    const int32_t da = maximum_dim_from_back(a, i);
    const int32_t db = maximum_dim_from_back(b, i);
    const int32_t d = maximum_dim_from_back(out, i);
    const int32_t sa = da == 1 ? 0 : contiguous_a;
    const int32_t sb = db == 1 ? 0 : contiguous_b;
    contiguous_a *= da;
    contiguous_b *= db;
    if (d == 1) continue;
    if (w->count > 0) {
      const int32_t k = w->count - 1;
      if (sa == w->stride1[k] * w->dims[k] && sb == w->stride2[k] * w->dims[k]) {
        w->dims[k] *= d;
        continue;
      }
    }
    w->dims[w->count] = d;
    w->stride1[w->count] = sa;
    w->stride2[w->count] = sb;
    w->count++;
  }
  if (w->count == 0) { /* every dim is 1: one element */
    w->dims[0] = 1;
    w->stride1[0] = 0;
    w->stride2[0] = 0;
    w->count = 1;
  }
}

/* ---- arithmetic ----------------------------------------------------------------------- */

static void maximum_run(const int8_t *in1, int32_t step1, const int8_t *in2, int32_t step2,
                    int8_t *out, int32_t n) {
  int32_t i;
  int32_t o1 = 0;
  int32_t o2 = 0;
  for (i = 0; i < n; ++i) {
    const int8_t x1 = in1[o1];
    const int8_t x2 = in2[o2];
    out[i] = x1 > x2 ? x1 : x2;
    o1 += step1;
    o2 += step2;
  }
}

static tfl_status maximum_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in1 == NULL || in2 == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in1->type != TFL_TYPE_INT8 || in2->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8)
    return TFL_ERR_UNSUPPORTED_TYPE;
  return maximum_check_broadcast(in1, in2, out);
}

static tfl_status maximum_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *a = (const int8_t *)in1->data;
  const int8_t *b = (const int8_t *)in2->data;
  int8_t *o = (int8_t *)out->data;
  maximum_walk w;
  int32_t idx[TFL_MAX_DIMS];
  int32_t off1 = 0;
  int32_t off2 = 0;
  int32_t k;
  if (tfl_tensor_elements(out) == 0) return TFL_OK;
  if (tfl_same_shape(in1, in2)) {
    maximum_run(a, 1, b, 1, o, tfl_tensor_elements(out));
    return TFL_OK;
  }
  maximum_make_walk(in1, in2, out, &w);
  memset(idx, 0, sizeof idx);
  for (;;) {
    maximum_run(a + off1, w.stride1[0], b + off2, w.stride2[0], o, w.dims[0]);
    o += w.dims[0];
    for (k = 1; k < w.count; ++k) {
      off1 += w.stride1[k];
      off2 += w.stride2[k];
      if (++idx[k] < w.dims[k]) break;
      off1 -= w.stride1[k] * w.dims[k];
      off2 -= w.stride2[k] * w.dims[k];
      idx[k] = 0;
    }
    if (k >= w.count) break;
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(maximum, 55, "MAXIMUM", maximum_prepare, maximum_eval);
