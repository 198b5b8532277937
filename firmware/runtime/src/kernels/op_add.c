/* ADD, int8 (TFLite quantization spec, TFLM reference arithmetic).
 *
 * Both inputs are brought to a common scale: each is offset by its zero point, shifted left by
 * 20 bits and multiplied by scale_i / (2 * max(scale_1, scale_2)) (a multiplier below one); the
 * sum is rescaled by 2 * max_scale / (2^20 * output_scale), offset by the output zero point and
 * clamped to the fused activation's range. Inputs broadcast NumPy-style up to TFL_MAX_DIMS. */
#include "tfl_kernel.h"
#include "tfl_kernel_broadcast.h"

typedef tfl_addsub_params tfl_add_data;
TFL_OP_DATA_FITS(tfl_add_data);

/* ---- broadcasting walk (same helper in each binary elementwise kernel: one op per file) -- */

/* Output dims of a broadcasting binary op, innermost first, with size-1 dims dropped and
 * neighbouring dims that broadcast the same way merged. stride1/stride2: element step of
 * each input along that dim (0 where it broadcasts). */
typedef struct {
  int32_t count;
  int32_t dims[TFL_MAX_DIMS];
  int32_t stride1[TFL_MAX_DIMS];
  int32_t stride2[TFL_MAX_DIMS];
} add_walk;

static int32_t add_dim_from_back(const tfl_tensor *t, int32_t i) {
  return i < (int32_t)t->dims_count ? t->dims[t->dims_count - 1 - i] : 1;
}

/* TFL_OK when the output's shape is the broadcast of the inputs' shapes. */
static tfl_status add_check_broadcast(const tfl_tensor *a, const tfl_tensor *b,
                                      const tfl_tensor *out) {
  const int32_t rank = tfl_max(a->dims_count, b->dims_count);
  int32_t i;
  if ((int32_t)out->dims_count != rank) return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < rank; ++i) {
    const int32_t da = add_dim_from_back(a, i);
    const int32_t db = add_dim_from_back(b, i);
    const int32_t d = add_dim_from_back(out, i);
    if (da != db && da != 1 && db != 1) return TFL_ERR_BAD_SHAPE;
    if (d != (da == 1 ? db : da)) return TFL_ERR_BAD_SHAPE;
  }
  return TFL_OK;
}

static void add_make_walk(const tfl_tensor *a, const tfl_tensor *b, const tfl_tensor *out,
                          add_walk *w) {
  int32_t contiguous_a = 1;
  int32_t contiguous_b = 1;
  int32_t i;
  w->count = 0;
  for (i = 0; i < (int32_t)out->dims_count; ++i) {
    const int32_t da = add_dim_from_back(a, i);
    const int32_t db = add_dim_from_back(b, i);
    const int32_t d = add_dim_from_back(out, i);
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

#if defined(__GNUC__)
#define ADD_INLINE static inline __attribute__((always_inline))
#else
#define ADD_INLINE static inline
#endif

/* x * multiplier * 2^-right_shift with TFLM's double rounding, in the branch-free form that
 * gives the same integers: the saturating rounding doubling high multiply (ties toward zero
 * from the truncating division with a -/+ nudge) equals floor((x * m + 2^30) / 2^31), and the
 * rounding divide by 2^s (ties away from zero) equals floor((high + 2^(s-1) - [high < 0]) / 2^s)
 * for s >= 1 (round = 2^(s-1), sign_mask = -1; both 0 for s = 0). Every ADD multiplier
 * has shift <= 0 (checked in prepare) and operands satisfy |x| < 2^29, so the saturating case
 * (x == m == INT32_MIN) cannot occur and high + round cannot overflow. */
ADD_INLINE int32_t add_scale(int32_t x, int32_t multiplier, int32_t right_shift, int32_t round,
                             int32_t sign_mask) {
  const int32_t high = (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << 30)) >> 31);
  return (high + round + ((high >> 31) & sign_mask)) >> right_shift;
}

static void add_run(const tfl_add_data *d, const int8_t *in1, int32_t step1,
                    const int8_t *in2, int32_t step2, int8_t *out, int32_t n) {
  /* parameters in locals: stores through int8_t* may alias *d, which would force reloads */
  const int32_t offset1 = d->input1_offset;
  const int32_t offset2 = d->input2_offset;
  const int32_t output_offset = d->output_offset;
  const int32_t left_shift = d->left_shift;
  const int32_t m1 = d->input1_multiplier;
  const int32_t r1 = -d->input1_shift;
  const int32_t m2 = d->input2_multiplier;
  const int32_t r2 = -d->input2_shift;
  const int32_t mo = d->output_multiplier;
  const int32_t ro = -d->output_shift;
  const int32_t act_min = d->act_min;
  const int32_t act_max = d->act_max;
  const int32_t round1 = r1 > 0 ? (int32_t)1 << (r1 - 1) : 0;
  const int32_t round2 = r2 > 0 ? (int32_t)1 << (r2 - 1) : 0;
  const int32_t roundo = ro > 0 ? (int32_t)1 << (ro - 1) : 0;
  const int32_t sign1 = r1 > 0 ? -1 : 0;
  const int32_t sign2 = r2 > 0 ? -1 : 0;
  const int32_t signo = ro > 0 ? -1 : 0;
  int32_t i;
  int32_t o1 = 0;
  int32_t o2 = 0;
  for (i = 0; i < n; ++i) {
    const int32_t scaled1 =
        add_scale((in1[o1] + offset1) * (1 << left_shift), m1, r1, round1, sign1);
    const int32_t scaled2 =
        add_scale((in2[o2] + offset2) * (1 << left_shift), m2, r2, round2, sign2);
    const int32_t raw =
        add_scale(scaled1 + scaled2, mo, ro, roundo, signo) + output_offset;
    out[i] = (int8_t)tfl_clamp(raw, act_min, act_max);
    o1 += step1;
    o2 += step2;
  }
}

/* Same-shape inputs (no broadcasting): both pointers walk by one and the left shift is the
 * constant 20 set in prepare, so fewer values compete for registers than in add_run. Same
 * arithmetic as add_run, element by element. */
static void add_run_same(const tfl_add_data *d, const int8_t *in1, const int8_t *in2,
                         int8_t *out, int32_t n) {
  const int32_t offset1 = d->input1_offset, offset2 = d->input2_offset;
  const int32_t output_offset = d->output_offset;
  const int32_t m1 = d->input1_multiplier, r1 = -d->input1_shift;
  const int32_t m2 = d->input2_multiplier, r2 = -d->input2_shift;
  const int32_t mo = d->output_multiplier, ro = -d->output_shift;
  const int32_t act_min = d->act_min, act_max = d->act_max;
  const int32_t round1 = r1 > 0 ? (int32_t)1 << (r1 - 1) : 0;
  const int32_t round2 = r2 > 0 ? (int32_t)1 << (r2 - 1) : 0;
  const int32_t roundo = ro > 0 ? (int32_t)1 << (ro - 1) : 0;
  const int32_t sign1 = r1 > 0 ? -1 : 0, sign2 = r2 > 0 ? -1 : 0, signo = ro > 0 ? -1 : 0;
  const int8_t *end = in1 + n;
  while (in1 < end) {
    const int32_t scaled1 = add_scale((*in1++ + offset1) * (1 << 20), m1, r1, round1, sign1);
    const int32_t scaled2 = add_scale((*in2++ + offset2) * (1 << 20), m2, r2, round2, sign2);
    const int32_t raw = add_scale(scaled1 + scaled2, mo, ro, roundo, signo) + output_offset;
    *out++ = (int8_t)tfl_clamp(raw, act_min, act_max);
  }
}

static tfl_status add_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_add_data d;
  tfl_status st;
  if (in1 == NULL || in2 == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  st = tfl_addsub_prepare(ctx, node, in1, in2, out, &d);
  if (st != TFL_OK) return st;
  st = add_check_broadcast(in1, in2, out);
  if (st != TFL_OK) return st;
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

static tfl_status add_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *a = (const int8_t *)in1->data;
  const int8_t *b = (const int8_t *)in2->data;
  int8_t *o = (int8_t *)out->data;
  tfl_add_data d;
  add_walk w;
  int32_t idx[TFL_MAX_DIMS];
  int32_t off1 = 0;
  int32_t off2 = 0;
  int32_t k;
  memcpy(&d, node->data, sizeof d);
  if (tfl_tensor_elements(out) == 0) return TFL_OK;
  if (tfl_same_shape(in1, in2) && d.left_shift == 20) {
    add_run_same(&d, a, b, o, tfl_tensor_elements(out));
    return TFL_OK;
  }
  if (tfl_same_shape(in1, in2)) {
    add_run(&d, a, 1, b, 1, o, tfl_tensor_elements(out));
    return TFL_OK;
  }
  add_make_walk(in1, in2, out, &w);
  memset(idx, 0, sizeof idx);
  for (;;) {
    add_run(&d, a + off1, w.stride1[0], b + off2, w.stride2[0], o, w.dims[0]);
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

TFL_DEFINE_KERNEL(add, 0, "ADD", add_prepare, add_eval);
