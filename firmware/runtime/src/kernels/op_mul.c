/* MUL, int8 and 16x8 int16 (TFLite quantization spec, TFLM reference arithmetic).
 *
 * (x1 - zero_point_1) * (x2 - zero_point_2) is rescaled by scale_1 * scale_2 / output_scale
 * (Q31 multiplier and shift, double rounding), offset by the output zero point and clamped to
 * the fused activation's range. Inputs broadcast NumPy-style up to TFL_MAX_DIMS. int16 (zero
 * points 0, as TFLM requires) takes the same steps on int16 elements; prepare selects its eval.
 * int32 (TFLM's form for shape arithmetic): the wrapping product of the values, clamped to the
 * activation's int32 range (tfl_kernel_arith32.h). */
#include "tfl_kernel.h"
#include "tfl_kernel_arith32.h"
#include "tfl_kernel_broadcast.h"

typedef struct {
  int32_t input1_offset;
  int32_t input2_offset;
  int32_t output_offset;
  int32_t output_multiplier;
  int32_t output_shift;
  int32_t act_min;
  int32_t act_max;
} tfl_mul_data;
TFL_OP_DATA_FITS(tfl_mul_data);

/* ---- arithmetic ----------------------------------------------------------------------- */

/* Operands of tfl_binary_scale: |x| <= 255 * 255 scaled by 2^left_shift <= 2^15 (int8) or
 * |x| <= 32768 * 32768 = 2^30 with left_shift 0 (int16; both checked in prepare), never
 * INT32_MIN, and with right_shift > 0 left_shift is 0, so high + round cannot overflow.
 * wide: int16 elements (a constant at each call site). */
TFL_BINARY_INLINE void mul_row_any(const void *params, const void *in1, int32_t step1,
                                   const void *in2, int32_t step2, void *out, int32_t n, int wide) {
  const tfl_mul_data *d = (const tfl_mul_data *)params;
  /* parameters in locals: stores through the output may alias *d, which would force reloads */
  const int32_t offset1 = d->input1_offset;
  const int32_t offset2 = d->input2_offset;
  const int32_t output_offset = d->output_offset;
  const int32_t multiplier = d->output_multiplier;
  const int32_t left_shift = d->output_shift > 0 ? d->output_shift : 0;
  const int32_t right_shift = d->output_shift > 0 ? 0 : -d->output_shift;
  const int32_t round = right_shift > 0 ? (int32_t)1 << (right_shift - 1) : 0;
  const int32_t sign_mask = right_shift > 0 ? -1 : 0;
  const int32_t act_min = d->act_min;
  const int32_t act_max = d->act_max;
  int32_t i;
  int32_t o1 = 0;
  int32_t o2 = 0;
  for (i = 0; i < n; ++i) {
    const int32_t product =
        (tfl_binary_load(in1, o1, wide) + offset1) * (tfl_binary_load(in2, o2, wide) + offset2);
    const int32_t raw =
        tfl_binary_scale(product * (1 << left_shift), multiplier, right_shift, round, sign_mask) +
        output_offset;
    tfl_binary_store(out, i, tfl_clamp(raw, act_min, act_max), wide);
    o1 += step1;
    o2 += step2;
  }
}

static void mul_row(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                    int32_t step2, int8_t *out, int32_t n) {
  mul_row_any(params, in1, step1, in2, step2, out, n, 0);
}

static void mul_row16(const void *params, const int16_t *in1, int32_t step1, const int16_t *in2,
                      int32_t step2, int16_t *out, int32_t n) {
  mul_row_any(params, in1, step1, in2, step2, out, n, 1);
}

static tfl_status mul_eval16(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_eval16(ctx, node, mul_row16);
}

TFL_DEFINE_KERNEL16(mul_int16, 18, "MUL", mul_prepare, mul_eval16);
static const tfl_kernel mul_int32 = {18, "MUL", mul_prepare, tfl_arith32_eval, NULL};

static tfl_status mul_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1, *in2, *out;
  tfl_mul_data d;
  int8_t activation = TFL_ACT_NONE;
  int wide = 0;
  if (tfl_arith32_node(ctx, node)) return tfl_arith32_prepare(ctx, node, &mul_int32);
  /* present, all int8 or all int16, quantized, shapes broadcast */
  TFL_ENSURE(tfl_broadcast_prepare_wide(ctx, node, &in1, &in2, &out, &wide));
  TFL_ENSURE(
      tfl_option_i8(ctx, node, 0, TFL_ACT_NONE, &activation)); /* fused_activation_function */

  memset(&d, 0, sizeof d);
  d.input1_offset = -in1->zero_point;
  d.input2_offset = -in2->zero_point;
  d.output_offset = out->zero_point;
  tfl_quantize_multiplier((double)in1->scale * (double)in2->scale / (double)out->scale,
                          &d.output_multiplier, &d.output_shift);
  /* (255 * 255) << shift, and 2^30 << shift for int16, must stay inside int32 (TFLM would
   * overflow there). */
  if (d.output_shift > (wide ? 0 : 15)) return TFL_ERR_BAD_QUANTIZATION;
  TFL_ENSURE(tfl_activation_range(activation, out->scale, out->zero_point, wide ? -32768 : -128,
                                  wide ? 32767 : 127, &d.act_min, &d.act_max));
  memcpy(node->data, &d, sizeof d);
  if (TFL_WITH_INT16 && wide) node->kernel = &mul_int16; /* the int16 eval from now on */
  return TFL_OK;
}

static tfl_status mul_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_eval(ctx, node, mul_row);
}

TFL_DEFINE_KERNEL(mul, 18, "MUL", mul_prepare, mul_eval);
