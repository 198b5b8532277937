/* Broadcasting shape check, row walk and parameterless prepare of the binary elementwise
 * kernels (see the header). */
#include "tfl_kernel_broadcast.h"

#include "tfl_kernel_arith32.h"

/* Output dims innermost first (merged, size-1 dims dropped) and each input's element step. */
typedef struct {
  int32_t count;
  int32_t dims[TFL_MAX_DIMS];
  int32_t stride1[TFL_MAX_DIMS];
  int32_t stride2[TFL_MAX_DIMS];
} broadcast_walk;

/* Dim i counted from the innermost; 1 beyond the tensor's rank. */
static int32_t broadcast_dim_from_back(const tfl_tensor *t, int32_t i) {
  return i < (int32_t)t->dims_count ? t->dims[t->dims_count - 1 - i] : 1;
}

tfl_status tfl_broadcast_check(const tfl_tensor *a, const tfl_tensor *b, const tfl_tensor *out) {
  const int32_t rank = tfl_max(a->dims_count, b->dims_count);
  int32_t i;
  if ((int32_t)out->dims_count != rank) return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < rank; ++i) {
    const int32_t da = broadcast_dim_from_back(a, i);
    const int32_t db = broadcast_dim_from_back(b, i);
    const int32_t d = broadcast_dim_from_back(out, i);
    if (da != db && da != 1 && db != 1) return TFL_ERR_BAD_SHAPE;
    if (d != (da == 1 ? db : da)) return TFL_ERR_BAD_SHAPE;
  }
  return TFL_OK;
}

static void broadcast_make_walk(const tfl_tensor *a, const tfl_tensor *b, const tfl_tensor *out,
                                broadcast_walk *w) {
  int32_t contiguous_a = 1;
  int32_t contiguous_b = 1;
  int32_t i;
  w->count = 0;
  for (i = 0; i < (int32_t)out->dims_count; ++i) {
    const int32_t da = broadcast_dim_from_back(a, i);
    const int32_t db = broadcast_dim_from_back(b, i);
    const int32_t d = broadcast_dim_from_back(out, i);
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

/* The walk over the whole output for int8 rows (row8) or int16 rows (row16, row8 NULL); row8
 * gets byte pointers to elements of in_bytes (inputs) and out_bytes (output), 1 for int8. */
static void broadcast_walk_rows(const tfl_tensor *in1, const tfl_tensor *in2, const tfl_tensor *out,
                                tfl_broadcast_row row8, tfl_broadcast_row16 row16,
                                const void *params, int32_t in_bytes, int32_t out_bytes) {
  broadcast_walk w;
  int32_t idx[TFL_MAX_DIMS];
  int32_t off1 = 0;
  int32_t off2 = 0;
  int32_t off_out = 0;
  int32_t k;
  if (tfl_tensor_elements(out) == 0) return;
  if (tfl_same_shape(in1, in2)) {
    w.count = 1;
    w.dims[0] = tfl_tensor_elements(out);
    w.stride1[0] = 1;
    w.stride2[0] = 1;
  } else {
    broadcast_make_walk(in1, in2, out, &w);
  }
  memset(idx, 0, sizeof idx);
  for (;;) {
    if (row8 != NULL) {
      row8(params, (const int8_t *)in1->data + off1 * in_bytes, w.stride1[0],
           (const int8_t *)in2->data + off2 * in_bytes, w.stride2[0],
           (int8_t *)out->data + off_out * out_bytes, w.dims[0]);
    } else {
      row16(params, (const int16_t *)in1->data + off1, w.stride1[0],
            (const int16_t *)in2->data + off2, w.stride2[0], (int16_t *)out->data + off_out,
            w.dims[0]);
    }
    off_out += w.dims[0];
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
}

void tfl_broadcast_run(const tfl_tensor *in1, const tfl_tensor *in2, const tfl_tensor *out,
                       tfl_broadcast_row row, const void *params) {
  broadcast_walk_rows(in1, in2, out, row, NULL, params, 1, 1);
}

void tfl_broadcast_run_sized(const tfl_tensor *in1, const tfl_tensor *in2, const tfl_tensor *out,
                             tfl_broadcast_row row, const void *params, int32_t in_bytes,
                             int32_t out_bytes) {
  broadcast_walk_rows(in1, in2, out, row, NULL, params, in_bytes, out_bytes);
}

/* The eval over node->data with an int8 or an int16 row function (the other NULL). */
static tfl_status broadcast_eval_rows(tfl_context *ctx, const tfl_node *node,
                                      tfl_broadcast_row row8, tfl_broadcast_row16 row16) {
  int32_t params[TFL_OP_DATA_WORDS]; /* a local copy: stores through the output may alias node */
  memcpy(params, node->data, sizeof params);
  broadcast_walk_rows(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1),
                      tfl_node_output(ctx, node, 0), row8, row16, params, 1, 1);
  return TFL_OK;
}

tfl_status tfl_broadcast_eval(tfl_context *ctx, const tfl_node *node, tfl_broadcast_row row) {
  return broadcast_eval_rows(ctx, node, row, NULL);
}

tfl_status tfl_broadcast_eval16(tfl_context *ctx, const tfl_node *node, tfl_broadcast_row16 row) {
  return broadcast_eval_rows(ctx, node, NULL, row);
}

tfl_status tfl_broadcast_quant_check(const tfl_tensor *in1, const tfl_tensor *in2,
                                     const tfl_tensor *out) {
  if (in1->quant_count < 1 || in2->quant_count < 1 || out->quant_count < 1)
    return TFL_ERR_BAD_QUANTIZATION;
  if (!(in1->scale > 0.0f && in2->scale > 0.0f && out->scale > 0.0f))
    return TFL_ERR_BAD_QUANTIZATION;
  return TFL_OK;
}

tfl_status tfl_broadcast_tensors_int8(tfl_context *ctx, const tfl_node *node,
                                      const tfl_tensor **in1, const tfl_tensor **in2,
                                      const tfl_tensor **out) {
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPES_INT8, in1, in2, out));
  return tfl_broadcast_check(*in1, *in2, *out);
}

tfl_status tfl_broadcast_prepare_int8(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1, *in2, *out;
  return tfl_broadcast_tensors_int8(ctx, node, &in1, &in2, &out);
}

tfl_status tfl_broadcast_prepare_wide(tfl_context *ctx, const tfl_node *node,
                                      const tfl_tensor **in1, const tfl_tensor **in2,
                                      const tfl_tensor **out, int *wide) {
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_COPY, TFL_TYPES_COPY, in1, in2, out));
  if ((*in1)->type != (*out)->type || (*in2)->type != (*out)->type) return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(tfl_broadcast_quant_check(*in1, *in2, *out));
  *wide = TFL_IS_INT16(*out);
  /* 16x8: symmetric int16 activations (TFLite's quantization spec; TFLM checks it for MUL) */
  if (*wide && ((*in1)->zero_point != 0 || (*in2)->zero_point != 0 || (*out)->zero_point != 0))
    return TFL_ERR_BAD_QUANTIZATION;
  return tfl_broadcast_check(*in1, *in2, *out);
}

/* MAXIMUM and MINIMUM in one row function over int8 (wide = 0) or int16 (wide = 1) elements:
 * with flip = 0, x1 > x2 picks the larger value; with flip = -1 the comparison runs on the
 * bitwise complements (~x1 > ~x2 exactly when x1 < x2), which picks the smaller. Ties give x2
 * either way (the same value). */
TFL_BINARY_INLINE void minmax_run(int32_t flip, const void *in1, int32_t step1, const void *in2,
                                  int32_t step2, void *out, int32_t n, int wide) {
  int32_t i;
  int32_t o1 = 0;
  int32_t o2 = 0;
  for (i = 0; i < n; ++i) {
    const int32_t x1 = tfl_binary_load(in1, o1, wide);
    const int32_t x2 = tfl_binary_load(in2, o2, wide);
    tfl_binary_store(out, i, (x1 ^ flip) > (x2 ^ flip) ? x1 : x2, wide);
    o1 += step1;
    o2 += step2;
  }
}

static void minmax_row(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                       int32_t step2, int8_t *out, int32_t n) {
  minmax_run(*(const int8_t *)params, in1, step1, in2, step2, out, n, 0);
}

/* The int16 form (16x8: the stored values compared, as TFLM does). */
static void minmax_row16(const void *params, const int16_t *in1, int32_t step1, const int16_t *in2,
                         int32_t step2, int16_t *out, int32_t n) {
  minmax_run(*(const int8_t *)params, in1, step1, in2, step2, out, n, 1);
}

/* The int32 form: flip = 0 picks the larger, -1 the smaller (~a > ~b exactly when a < b). */
static void minmax_row_int32(const void *params, const int8_t *in1, int32_t step1,
                             const int8_t *in2, int32_t step2, int8_t *out, int32_t n) {
  const int32_t flip = *(const int8_t *)params;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t x1 = tfl_broadcast_i32(in1, i, step1);
    const int32_t x2 = tfl_broadcast_i32(in2, i, step2);
    const int32_t r = (x1 ^ flip) > (x2 ^ flip) ? x1 : x2;
    memcpy(out + (size_t)i * 4, &r, 4);
  }
}

tfl_status tfl_broadcast_minmax_eval(tfl_context *ctx, tfl_node *node, int maximum) {
  const int8_t flip = maximum ? 0 : -1;
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (out->type == TFL_TYPE_INT32) {
    tfl_broadcast_run_sized(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1), out,
                            minmax_row_int32, &flip, 4, 4);
    return TFL_OK;
  }
  if (TFL_IS_INT16(out)) {
    broadcast_walk_rows(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1), out, NULL,
                        minmax_row16, &flip, 1, 1);
    return TFL_OK;
  }
  tfl_broadcast_run(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1), out, minmax_row,
                    &flip);
  return TFL_OK;
}

tfl_status tfl_broadcast_prepare_minmax(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in1 == NULL || in2 == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (out->type != TFL_TYPE_INT32 && !TFL_IS_INT16(out))
    return tfl_broadcast_prepare_int8(ctx, node);
  if (in1->type != out->type || in2->type != out->type) return TFL_ERR_UNSUPPORTED_TYPE;
  return tfl_broadcast_check(in1, in2, out);
}

/* A multiplier in (0, 1): Q31 value and a shift <= 0. */
static tfl_status addsub_small_multiplier(double real, int32_t *multiplier, int32_t *shift) {
  if (!(real > 0.0 && real < 1.0)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier(real, multiplier, shift);
  return *shift <= 0 ? TFL_OK : TFL_ERR_BAD_QUANTIZATION;
}

/* Scales, fused activation and multipliers of ADD and SUB (int8: left shift 20; int16:
 * left shift 15, as TFLM's general-scale path; its power-of-two path is not used by TFLM). */
static tfl_status addsub_params(tfl_context *ctx, const tfl_node *node, const tfl_tensor *in1,
                                const tfl_tensor *in2, const tfl_tensor *out, int wide,
                                tfl_addsub_params *params) {
  tfl_addsub_params d;
  int8_t activation = TFL_ACT_NONE;
  double twice_max_scale;
  /* fused_activation_function */
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_ACT_NONE, &activation));

  memset(&d, 0, sizeof d);
  d.input1_offset = -in1->zero_point;
  d.input2_offset = -in2->zero_point;
  d.output_offset = out->zero_point;
  d.left_shift = wide ? 15 : 20;
  twice_max_scale = 2.0 * (double)(in1->scale > in2->scale ? in1->scale : in2->scale);
  TFL_ENSURE(addsub_small_multiplier((double)in1->scale / twice_max_scale, &d.input1_multiplier,
                                     &d.input1_shift));
  TFL_ENSURE(addsub_small_multiplier((double)in2->scale / twice_max_scale, &d.input2_multiplier,
                                     &d.input2_shift));
  TFL_ENSURE(
      addsub_small_multiplier(twice_max_scale / ((double)(1L << d.left_shift) * (double)out->scale),
                              &d.output_multiplier, &d.output_shift));
  TFL_ENSURE(tfl_activation_range(activation, out->scale, out->zero_point, wide ? -32768 : -128,
                                  wide ? 32767 : 127, &d.act_min, &d.act_max));
  *params = d;
  return TFL_OK;
}

/* The int16 row of ADD and SUB: the subtraction flag is in the parameters. */
static void addsub_row16(const void *params, const int16_t *in1, int32_t step1, const int16_t *in2,
                         int32_t step2, int16_t *out, int32_t n) {
  const tfl_addsub_params *d = (const tfl_addsub_params *)params;
  if (d->subtract) {
    tfl_addsub_row(d, in1, step1, in2, step2, out, n, 1, 1);
  } else {
    tfl_addsub_row(d, in1, step1, in2, step2, out, n, 0, 1);
  }
}

static tfl_status addsub_eval16(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_eval16(ctx, node, addsub_row16);
}

static const tfl_kernel add_int16 = {0, "ADD", tfl_add_prepare, TFL_EVAL16(addsub_eval16), NULL};
static const tfl_kernel sub_int16 = {41, "SUB", tfl_sub_prepare, TFL_EVAL16(addsub_eval16), NULL};
static const tfl_kernel add_int32 = {0, "ADD", tfl_add_prepare, tfl_arith32_eval, NULL};
static const tfl_kernel sub_int32 = {41, "SUB", tfl_sub_prepare, tfl_arith32_eval, NULL};

/* ADD (subtract = 0) or SUB (subtract = 1). */
static tfl_status addsub_prepare(tfl_context *ctx, tfl_node *node, int subtract) {
  const tfl_tensor *in1, *in2, *out;
  tfl_addsub_params d;
  int wide = 0;
  if (tfl_arith32_node(ctx, node)) /* int32 values (tfl_kernel_arith32.h) */
    return tfl_arith32_prepare(ctx, node, subtract ? &sub_int32 : &add_int32);
  TFL_ENSURE(tfl_broadcast_prepare_wide(ctx, node, &in1, &in2, &out, &wide));
  TFL_ENSURE(addsub_params(ctx, node, in1, in2, out, wide, &d));
  d.subtract = subtract;
  memcpy(node->data, &d, sizeof d);
  if (TFL_WITH_INT16 && wide)
    node->kernel = subtract ? &sub_int16 : &add_int16; /* the int16 eval from now on */
  return TFL_OK;
}

tfl_status tfl_add_prepare(tfl_context *ctx, tfl_node *node) {
  return addsub_prepare(ctx, node, 0);
}

tfl_status tfl_sub_prepare(tfl_context *ctx, tfl_node *node) {
  return addsub_prepare(ctx, node, 1);
}
