/* ADD, int8, 16x8 int16 and int32 (TFLite quantization spec, TFLM reference arithmetic; the
 * int32 form, on unquantized values, is tfl_kernel_arith32.h's, selected by its prepare).
 *
 * Both inputs are brought to a common scale: each is offset by its zero point, shifted left by
 * 20 bits and multiplied by scale_i / (2 * max(scale_1, scale_2)) (a multiplier below one); the
 * sum is rescaled by 2 * max_scale / (2^20 * output_scale), offset by the output zero point and
 * clamped to the fused activation's range. Inputs broadcast NumPy-style up to TFL_MAX_DIMS.
 * int16 (zero points 0) takes the same steps with a left shift of 15 (TFLM's general-scale
 * path); its eval is tfl_kernel_broadcast.c's, selected by tfl_add_prepare. */
#include "tfl_kernel.h"
#include "tfl_kernel_broadcast.h"

typedef tfl_addsub_params tfl_add_data;
TFL_OP_DATA_FITS(tfl_add_data);

/* One broadcast row (tfl_broadcast_run). */
static void add_row(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                    int32_t step2, int8_t *out, int32_t n) {
  tfl_addsub_row((const tfl_add_data *)params, in1, step1, in2, step2, out, n, 0, 0);
}

/* Same-shape inputs (no broadcasting): both pointers walk by one and the left shift is the
 * constant 20 set in prepare, so fewer values compete for registers than in add_row. Same
 * arithmetic as add_row, element by element. */
static void add_run_same(const tfl_add_data *d, const int8_t *in1, const int8_t *in2, int8_t *out,
                         int32_t n) {
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
    const int32_t scaled1 = tfl_binary_scale((*in1++ + offset1) * (1 << 20), m1, r1, round1, sign1);
    const int32_t scaled2 = tfl_binary_scale((*in2++ + offset2) * (1 << 20), m2, r2, round2, sign2);
    const int32_t raw = tfl_binary_scale(scaled1 + scaled2, mo, ro, roundo, signo) + output_offset;
    *out++ = (int8_t)tfl_clamp(raw, act_min, act_max);
  }
}

static tfl_status add_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_add_data d;
  memcpy(&d, node->data, sizeof d);
  if (tfl_tensor_elements(out) == 0) return TFL_OK;
  if (tfl_same_shape(in1, in2) && d.left_shift == 20) { /* ResNet's residual ADDs */
    add_run_same(&d, (const int8_t *)in1->data, (const int8_t *)in2->data, (int8_t *)out->data,
                 tfl_tensor_elements(out));
    return TFL_OK;
  }
  tfl_broadcast_run(in1, in2, out, add_row, &d);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(add, 0, "ADD", tfl_add_prepare, add_eval);
