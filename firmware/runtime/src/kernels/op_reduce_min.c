/* REDUCE_MIN, int8 (TFLM reference semantics).
 *
 * The smallest stored int8 value over the axes of input 1 (a constant int32 vector; negative
 * counts from the back, repeats allowed); ReducerOptions.keep_dims keeps the reduced dims as 1.
 * No requantization: TFLM requires the output's scale and zero point to equal the input's and
 * compares raw values. An empty reduction (a reduced dim of 0) gives 127, TFLM's initial value. */
#include "tfl_kernel_reduce.h"

TFL_OP_DATA_FITS(tfl_reduce_shape);

static int8_t reduce_min_finish(int32_t acc, const void *user) {
  (void)user;
  return (int8_t)acc;
}

static tfl_status reduce_min_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_reduce_shape shape;
  const tfl_status st = tfl_reduce_prepare(ctx, node, &shape);
  if (st != TFL_OK) return st;
  if ((double)in->scale != (double)out->scale || in->zero_point != out->zero_point)
    return TFL_ERR_BAD_QUANTIZATION;
  memcpy(node->data, &shape, sizeof shape);
  return TFL_OK;
}

static tfl_status reduce_min_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t out_count = tfl_tensor_elements(out);
  tfl_reduce_shape shape;
  memcpy(&shape, node->data, sizeof shape);
  if (shape.count == 0) {
    memset(out->data, 127 & 0xff, (size_t)out_count);
    return TFL_OK;
  }
  tfl_reduce_int8(in, &shape, TFL_REDUCE_MIN, reduce_min_finish, NULL, (int8_t *)out->data,
                  out_count);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(reduce_min, 89, "REDUCE_MIN", reduce_min_prepare, reduce_min_eval);
