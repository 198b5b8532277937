/* ABS, int8 and 16x8 int16 (TFLM reference arithmetic).
 *
 *   v = |x - input_zero_point|
 *   out = v + output_zero_point                                    (same scale in and out)
 *   out = requantize(v, input_scale / output_scale) + output_zero_point   (otherwise)
 * saturated to int8 (int16: zero points 0, as TFLM requires; saturated to int16, so |-32768|
 * gives 32767); the scale quotient is computed in float, then split into a Q31 multiplier and a
 * shift, as TFLM does. */
#include "tfl_kernel_lut8.h"

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t rescale; /* 0: the scales are equal, no multiply */
  int32_t multiplier;
  int32_t shift;
  int32_t qmin; /* the storage type's range */
  int32_t qmax;
} tfl_abs_data;
TFL_OP_DATA_FITS(tfl_abs_data);

/* Output for one input value x (stored int8 or int16). */
static int32_t abs_any(const void *params, int32_t x) {
  const tfl_abs_data *d = (const tfl_abs_data *)params;
  const int32_t diff = x - d->input_zero_point;
  const int32_t v = diff < 0 ? -diff : diff;
  const int64_t r =
      (int64_t)(d->rescale ? tfl_multiply_by_quantized_multiplier(v, d->multiplier, d->shift) : v) +
      d->output_zero_point; /* int64: defined for any requantized value */
  return (int32_t)(r < d->qmin ? d->qmin : (r > d->qmax ? d->qmax : r));
}

TFL_DEFINE_MAP16_KERNEL(abs_int16, 101, "ABS", abs_prepare, abs_any);

static tfl_status abs_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_abs_data d;
  int wide = 0;
  if (node->input_count != 1 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  /* int8, or int16 with zero points 0; quantized with positive scales */
  TFL_ENSURE(tfl_map_prepare(ctx, node, &in, &out, &wide));
  if (!tfl_same_shape(in, out)) return TFL_ERR_BAD_SHAPE;
  memset(&d, 0, sizeof d);
  d.qmin = wide ? -32768 : -128;
  d.qmax = wide ? 32767 : 127;
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  d.rescale = in->scale != out->scale;
  if (d.rescale) {
    const float ratio = in->scale / out->scale;
    if (!(ratio > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
    tfl_quantize_multiplier((double)ratio, &d.multiplier, &d.shift);
  }
  if (TFL_WITH_INT16 && wide) node->kernel = &abs_int16; /* the int16 eval from now on */
  return tfl_node_set_data(node, &d, sizeof d);
}

/* Output for one input value x (stored int8). */
static int8_t abs_value(const void *params, int32_t x) { return (int8_t)abs_any(params, x); }

static tfl_status abs_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_lut8_eval(ctx, node, abs_value, 1024);
}

TFL_DEFINE_KERNEL(abs, 101, "ABS", abs_prepare, abs_eval);
