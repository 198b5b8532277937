/* SUB, int8 (TFLite quantization spec, TFLM reference arithmetic).
 *
 * As ADD: both inputs are offset by their zero points, shifted left by 20 bits and brought to
 * the scale 2 * max(scale_1, scale_2) with multipliers below one; input 2 is subtracted from
 * input 1 and the difference rescaled to the output, offset and clamped to the fused
 * activation's range. Inputs broadcast NumPy-style up to TFL_MAX_DIMS. */
#include "tfl_kernel.h"
#include "tfl_kernel_broadcast.h"

typedef tfl_addsub_params tfl_sub_data;
TFL_OP_DATA_FITS(tfl_sub_data);

/* ---- arithmetic ----------------------------------------------------------------------- */

/* Operands of tfl_binary_scale: every SUB multiplier has shift <= 0 (checked in prepare) and
 * |x| < 2^29, so the saturating case cannot occur and high + round cannot overflow. */

static void sub_row(const void *params, const int8_t *in1, int32_t step1,
                    const int8_t *in2, int32_t step2, int8_t *out, int32_t n) {
  const tfl_sub_data *d = (const tfl_sub_data *)params;
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
        tfl_binary_scale((in1[o1] + offset1) * (1 << left_shift), m1, r1, round1, sign1);
    const int32_t scaled2 =
        tfl_binary_scale((in2[o2] + offset2) * (1 << left_shift), m2, r2, round2, sign2);
    const int32_t raw =
        tfl_binary_scale(scaled1 - scaled2, mo, ro, roundo, signo) + output_offset;
    out[i] = (int8_t)tfl_clamp(raw, act_min, act_max);
    o1 += step1;
    o2 += step2;
  }
}

static tfl_status sub_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_sub_data d;
  tfl_status st;
  if (in1 == NULL || in2 == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  st = tfl_addsub_prepare(ctx, node, in1, in2, out, &d);
  if (st != TFL_OK) return st;
  st = tfl_broadcast_check(in1, in2, out);
  if (st != TFL_OK) return st;
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

static tfl_status sub_eval(tfl_context *ctx, tfl_node *node) {
  tfl_sub_data d;
  memcpy(&d, node->data, sizeof d);
  tfl_broadcast_run(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1),
                    tfl_node_output(ctx, node, 0), sub_row, &d);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(sub, 41, "SUB", sub_prepare, sub_eval);
