/* MEAN, int8 or int16 (16x8: the same integer path, saturated to int16; TFLM reference
 * arithmetic).
 *
 * Input 1 is a constant int32 vector of axes (negative counts from the back, repeats allowed);
 * ReducerOptions.keep_dims keeps the reduced dims as 1. TFLM takes one integer path for every
 * int8 case (any axes, keep_dims or not, same or different quantization):
 *   multiplier, shift = input_scale / output_scale split into Q31 and exponent;
 *   k = min(floor(log2(n)), 32, 31 + shift), with n the number of elements averaged;
 *   multiplier = (multiplier << k) / n (int64, truncating), shift -= k;
 *   out = requantize(sum(x) - input_zero_point * n) + output_zero_point, saturated to int8.
 * No scratch buffer: each output sums its own elements (tfl_kernel_reduce's walk). */
#include "tfl_kernel_reduce.h"

typedef struct {
  tfl_reduce_shape shape; /* shape.count: elements averaged per output */
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier;
  int32_t shift;
  int32_t qmin, qmax; /* the output type's range: int8, or int16 (16x8) */
} tfl_mean_data;
TFL_OP_DATA_FITS(tfl_mean_data);

static int32_t mean_finish(int32_t sum, const void *user) {
  const tfl_mean_data *d = (const tfl_mean_data *)user;
  const int64_t shifted = (int64_t)sum - (int64_t)d->input_zero_point * d->shape.count;
  const int32_t r =
      tfl_multiply_by_quantized_multiplier((int32_t)shifted, d->multiplier, d->shift) +
      d->output_zero_point;
  return tfl_clamp(r, d->qmin, d->qmax);
}

static tfl_status mean_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_mean_data d;
  int32_t k;
  int64_t count;
  int64_t scaled;
  memset(&d, 0, sizeof d);
  TFL_ENSURE(tfl_reduce_prepare(ctx, node, &d.shape, &in, &out));
  if (!(in->scale > 0.0f && out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  count = d.shape.count;
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  d.qmin = TFL_IS_INT16(in) ? -32768 : -128;
  d.qmax = TFL_IS_INT16(in) ? 32767 : 127;
  tfl_quantize_multiplier((double)in->scale / (double)out->scale, &d.multiplier, &d.shift);
  if (count > 0) {
    k = 0;
    while (k < 62 && ((int64_t)1 << (k + 1)) <= count) ++k; /* floor(log2(count)) */
    k = tfl_min(k, 32);
    k = tfl_min(k, 31 + d.shift);
    if (k < 0) return TFL_ERR_BAD_QUANTIZATION;
    scaled = ((int64_t)d.multiplier * ((int64_t)1 << k)) / count;
    d.multiplier = (int32_t)scaled;
    d.shift -= k;
  }
  /* the requantized sum must not overflow: |sum| <= (qmax - qmin) * count, shifted left */
  if (d.shift > 0 && (int64_t)(d.qmax - d.qmin) * count > (INT32_MAX >> d.shift))
    return TFL_ERR_BAD_QUANTIZATION;
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status mean_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_reduce_sum_eval(ctx, node, mean_finish);
}

TFL_DEFINE_KERNEL(mean, 40, "MEAN", mean_prepare, mean_eval);
