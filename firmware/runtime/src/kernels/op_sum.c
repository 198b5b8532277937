/* SUM, int8 and 16x8 int16 (TFLM reference arithmetic; int16: the same steps saturated to
 * int16).
 *
 * Sums the stored int8 values over the axes of input 1 (a constant int32 vector; negative
 * counts from the back, repeats allowed) in an int32 accumulator that wraps like the
 * reference's; ReducerOptions.keep_dims keeps the reduced dims as 1. Then, with n the number of
 * elements summed and multiplier/shift the split of input_scale / output_scale (both as double):
 *   out = requantize(sum - input_zero_point * n, wrapped to int32) + output_zero_point,
 * saturated to int8. An empty reduction (a reduced dim of 0) gives 0 like TFLM. */
#include "tfl_kernel_reduce.h"

typedef struct {
  tfl_reduce_shape shape;
  int32_t offset; /* input_zero_point * n, wrapped to int32 */
  int32_t multiplier;
  int32_t shift;
  int32_t output_zero_point;
  int32_t qmin, qmax; /* the output type's range: int8, or int16 (16x8) */
} tfl_sum_data;
TFL_OP_DATA_FITS(tfl_sum_data);

static int32_t sum_finish(int32_t acc, const void *user) {
  const tfl_sum_data *d = (const tfl_sum_data *)user;
  const int32_t shifted = (int32_t)((uint32_t)acc - (uint32_t)d->offset);
  const int64_t r =
      (int64_t)tfl_multiply_by_quantized_multiplier(shifted, d->multiplier, d->shift) +
      d->output_zero_point; /* int64: defined for any requantized value */
  return (int32_t)(r < d->qmin ? d->qmin : (r > d->qmax ? d->qmax : r));
}

static tfl_status sum_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_sum_data d;
  memset(&d, 0, sizeof d);
  TFL_ENSURE(tfl_reduce_prepare(ctx, node, &d.shape, &in, &out));
  if (in->type != TFL_TYPE_INT8 && !TFL_IS_INT16(in)) return TFL_ERR_UNSUPPORTED_TYPE;
  d.qmin = TFL_IS_INT16(in) ? -32768 : -128;
  d.qmax = TFL_IS_INT16(in) ? 32767 : 127;
  if (!(in->scale > 0.0f && out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier((double)in->scale / (double)out->scale, &d.multiplier, &d.shift);
  d.offset = (int32_t)(uint32_t)((uint64_t)(int64_t)in->zero_point * (uint64_t)d.shape.count);
  d.output_zero_point = out->zero_point;
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status sum_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_reduce_sum_eval(ctx, node, sum_finish);
}

TFL_DEFINE_KERNEL(sum, 74, "SUM", sum_prepare, sum_eval);
