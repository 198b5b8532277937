/* RELU, int8 and 16x8 int16 (TFLM reference arithmetic).
 *
 * Requantization with clamping: (x - input_zero_point) is rescaled by input_scale /
 * output_scale (Q31 multiplier and shift, double rounding), offset by the output zero point and
 * clamped to [max(-128, output_zero_point), 127], i.e. real values below 0 become 0. int16
 * (zero points 0, as TFLM requires) takes the same steps clamped to [0, 32767]. */
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

/* Output for one input value x (stored int8 or int16), clamped to the type's range. */
static int32_t relu_any(const void *params, int32_t x) {
  const tfl_relu_data *d = (const tfl_relu_data *)params;
  const int32_t v = d->output_zero_point + tfl_multiply_by_quantized_multiplier(
                                               x - d->input_zero_point, d->multiplier, d->shift);
  return tfl_clamp(v, d->act_min, d->act_max);
}

TFL_DEFINE_MAP16_KERNEL(relu_int16, 19, "RELU", relu_prepare, relu_any);

static tfl_status relu_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_relu_data d;
  int wide = 0;
  TFL_ENSURE(tfl_map_prepare(ctx, node, &in, &out, &wide));
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  tfl_quantize_multiplier((double)in->scale / (double)out->scale, &d.multiplier, &d.shift);
  /* 255 << shift (int8), 32768 << shift (int16) must stay inside int32. */
  if (d.shift > (wide ? 15 : 23)) return TFL_ERR_BAD_QUANTIZATION;
  d.act_min = tfl_max(wide ? -32768 : -128, out->zero_point); /* quantized 0.0 */
  d.act_max = wide ? 32767 : 127;
  memcpy(node->data, &d, sizeof d);
  if (TFL_WITH_INT16 && wide) node->kernel = &relu_int16; /* the int16 eval from now on */
  return TFL_OK;
}

/* Output for one input value x (stored int8). */
static int8_t relu_value(const void *params, int32_t x) { return (int8_t)relu_any(params, x); }

static tfl_status relu_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_lut8_eval(ctx, node, relu_value, 1024);
}

TFL_DEFINE_KERNEL(relu, 19, "RELU", relu_prepare, relu_eval);
