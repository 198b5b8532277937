/* REDUCE_MAX, int8 (TFLM reference semantics).
 *
 * The largest stored int8 value over the axes of input 1 (a constant int32 vector; negative
 * counts from the back, repeats allowed); ReducerOptions.keep_dims keeps the reduced dims as 1.
 * No requantization: TFLM requires the output's scale and zero point to equal the input's and
 * compares raw values. An empty reduction (a reduced dim of 0) gives -128, TFLM's initial value. */
#include "tfl_kernel_reduce.h"

static tfl_status reduce_max_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_reduce_extreme_eval(ctx, node, TFL_REDUCE_MAX);
}

TFL_DEFINE_KERNEL(reduce_max, 82, "REDUCE_MAX", tfl_reduce_extreme_prepare, reduce_max_eval);
