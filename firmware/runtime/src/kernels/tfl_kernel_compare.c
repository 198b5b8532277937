/* Comparisons of int8 tensors (TFLM reference arithmetic); int32 tensors compare their values.
 *
 * TFLM compares the two inputs on a common footing without dequantizing to float: each value
 * becomes ((x - zero_point) << 8) * scale as a Q31 multiply with TFLM's double rounding (the
 * scale split into a Q31 multiplier and a right shift; TFLM requires scales below 1), and the
 * two int32 results are compared. The bool output stores 1 or 0 per element. Inputs broadcast
 * NumPy-style (the broadcast helpers' walk).
 *
 * int16 inputs (GREATER only: the one int16 comparison TFLM registers) follow TensorFlow Lite's
 * interpreter, not TFLM: TFLM's comparison prepare sets the rescale parameters for int8 alone,
 * so its int16 eval rescales with a block nobody set (all false in a fresh arena).
 * TensorFlow Lite compares the stored int16 values as they are, whatever the inputs'
 * quantization (measured with its builtin and its reference kernels). That is the comparison of
 * the real values exactly when both inputs share one scale and zero point (x > y iff
 * (x - z) * s > (y - z) * s for s > 0), or neither is quantized; prepare refuses any other
 * quantization (TFL_ERR_BAD_QUANTIZATION) rather than compare values on different scales. */
#include "tfl_kernel_compare.h"

#include <float.h>

#include "tfl_kernel_broadcast.h"

typedef struct {
  int32_t kind;
  int32_t int32; /* 1: int32 inputs, no quantization */
  tfl_input_rescale in1;
  tfl_input_rescale in2;
} tfl_compare_data;
TFL_OP_DATA_FITS(tfl_compare_data);

static tfl_status compare_scale(const tfl_tensor *t, int32_t *multiplier, int32_t *shift) {
  if (t->quant_count < 1 || !(t->scale > 0.0f && t->scale < 1.0f)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier((double)t->scale, multiplier, shift);
  return *shift <= 0 ? TFL_OK : TFL_ERR_BAD_QUANTIZATION;
}

tfl_status tfl_compare_prepare(tfl_context *ctx, tfl_node *node, tfl_compare_kind kind) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_compare_data d;
  tfl_status st;
  if (in1 == NULL || in2 == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if ((in1->type != TFL_TYPE_INT8 && in1->type != TFL_TYPE_INT32) || in2->type != in1->type ||
      out->type != TFL_TYPE_BOOL)
    return TFL_ERR_UNSUPPORTED_TYPE;
  st = tfl_broadcast_check(in1, in2, out);
  if (st != TFL_OK) return st;
  memset(&d, 0, sizeof d);
  d.kind = (int32_t)kind;
  if (in1->type == TFL_TYPE_INT32) { /* plain values: compared as they are */
    d.int32 = 1;
    return tfl_node_set_data(node, &d, sizeof d);
  }
  d.in1.zero_point = in1->zero_point;
  d.in2.zero_point = in2->zero_point;
  st = compare_scale(in1, &d.in1.multiplier, &d.in1.shift);
  if (st != TFL_OK) return st;
  st = compare_scale(in2, &d.in2.multiplier, &d.in2.shift);
  if (st != TFL_OK) return st;
  return tfl_node_set_data(node, &d, sizeof d);
}

/* (x - zero_point) * 256 fits in 17 bits, so the Q31 multiply never saturates. */
static int32_t compare_value(int8_t x, const tfl_input_rescale *r) {
  return tfl_multiply_by_quantized_multiplier(((int32_t)x - r->zero_point) * 256, r->multiplier,
                                              r->shift);
}

/* The comparison of kind `kind` of two int32 values. */
static int8_t compare_result(int32_t kind, int32_t a, int32_t b) {
  int r;
  switch (kind) {
    case TFL_CMP_EQUAL:
      r = a == b;
      break;
    case TFL_CMP_NOT_EQUAL:
      r = a != b;
      break;
    case TFL_CMP_GREATER:
      r = a > b;
      break;
    case TFL_CMP_GREATER_EQUAL:
      r = a >= b;
      break;
    case TFL_CMP_LESS:
      r = a < b;
      break;
    default:
      r = a <= b;
      break;
  }
  return (int8_t)r;
}

/* int32 inputs (tfl_broadcast_i32 loads). */
static void compare_row_int32(const void *params, const int8_t *in1, int32_t step1,
                              const int8_t *in2, int32_t step2, int8_t *out, int32_t n) {
  const tfl_compare_data *d = (const tfl_compare_data *)params;
  int32_t i;
  for (i = 0; i < n; ++i)
    out[i] =
        compare_result(d->kind, tfl_broadcast_i32(in1, i, step1), tfl_broadcast_i32(in2, i, step2));
}

static void compare_row(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                        int32_t step2, int8_t *out, int32_t n) {
  const tfl_compare_data *d = (const tfl_compare_data *)params;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t a = compare_value(in1[i * step1], &d->in1);
    const int32_t b = compare_value(in2[i * step2], &d->in2);
    out[i] = compare_result(d->kind, a, b);
  }
}

tfl_status tfl_compare_eval(tfl_context *ctx, tfl_node *node) {
  tfl_compare_data d;
  memcpy(&d, node->data, sizeof d);
  if (d.int32) {
    tfl_broadcast_run_sized(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1),
                            tfl_node_output(ctx, node, 0), compare_row_int32, &d, 4, 1);
    return TFL_OK;
  }
  return tfl_broadcast_eval(ctx, node, compare_row);
}

/* One positive finite scale and one zero point on both inputs, or no quantization on either. */
static int compare16_same_quantization(const tfl_tensor *a, const tfl_tensor *b) {
  if (a->quant_count == 0 && b->quant_count == 0) return 1; /* plain int16 values */
  if (a->quant_count != 1 || b->quant_count != 1) return 0;
  if (!(a->scale > 0.0f && a->scale <= FLT_MAX)) return 0;
  return a->scale == b->scale && a->zero_point == b->zero_point;
}

tfl_status tfl_compare_prepare16(tfl_context *ctx, tfl_node *node, tfl_compare_kind kind) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_compare_data d;
  tfl_status st;
  if (in1 == NULL || in2 == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (!TFL_IS_INT16(in1) || in2->type != in1->type || out->type != TFL_TYPE_BOOL)
    return TFL_ERR_UNSUPPORTED_TYPE;
  st = tfl_broadcast_check(in1, in2, out);
  if (st != TFL_OK) return st;
  if (!compare16_same_quantization(in1, in2)) return TFL_ERR_BAD_QUANTIZATION;
  memset(&d, 0, sizeof d);
  d.kind = (int32_t)kind;
  return tfl_node_set_data(node, &d, sizeof d);
}

/* Element i of an int16 row that steps by `step` elements from the byte pointer p: loaded by
 * memcpy, as a constant input is model bytes, maybe unaligned. */
static int32_t compare_i16(const int8_t *p, int32_t i, int32_t step) {
  int16_t v;
  memcpy(&v, p + (size_t)i * (size_t)step * 2, 2);
  return v;
}

static void compare_row16(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                          int32_t step2, int8_t *out, int32_t n) {
  const tfl_compare_data *d = (const tfl_compare_data *)params;
  int32_t i;
  for (i = 0; i < n; ++i)
    out[i] = compare_result(d->kind, compare_i16(in1, i, step1), compare_i16(in2, i, step2));
}

tfl_status tfl_compare_eval16(tfl_context *ctx, tfl_node *node) {
  tfl_compare_data d;
  memcpy(&d, node->data, sizeof d);
  tfl_broadcast_run_sized(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1),
                          tfl_node_output(ctx, node, 0), compare_row16, &d, 2, 1);
  return TFL_OK;
}
