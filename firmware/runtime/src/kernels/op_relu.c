/* RELU, int8 (TFLM reference arithmetic).
 *
 * Requantization with clamping: (x - input_zero_point) is rescaled by input_scale /
 * output_scale (Q31 multiplier and shift, double rounding), offset by the output zero point and
 * clamped to [max(-128, output_zero_point), 127], i.e. real values below 0 become 0. */
#include "tfl_kernel_lut8.h"

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier;
  int32_t shift;
  int32_t act_min;
  int32_t act_max;
} tfl_relu_data;
TFL_OP_DATA_FITS(tfl_relu_data);

static tfl_status relu_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_relu_data d;
  TFL_ENSURE(tfl_lut8_prepare(ctx, node, &in, &out));
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  tfl_quantize_multiplier((double)in->scale / (double)out->scale, &d.multiplier, &d.shift);
  /* 255 << shift must stay inside int32. */
  if (d.shift > 23) return TFL_ERR_BAD_QUANTIZATION;
  d.act_min = tfl_max(-128, out->zero_point); /* quantized 0.0 */
  d.act_max = 127;
  return tfl_node_set_data(node, &d, sizeof d);
}

/* Output for one input value x (stored int8). */
static int8_t relu_value(const void *params, int32_t x) {
  const tfl_relu_data *d = (const tfl_relu_data *)params;
  const int32_t v = d->output_zero_point + tfl_multiply_by_quantized_multiplier(
                                               x - d->input_zero_point, d->multiplier, d->shift);
  return (int8_t)tfl_clamp(v, d->act_min, d->act_max);
}

static tfl_status relu_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_lut8_eval(ctx, node, relu_value, 1024);
}

TFL_DEFINE_KERNEL(relu, 19, "RELU", relu_prepare, relu_eval);
