/* REDUCE_MIN, int8 (TFLM reference semantics).
 *
 * The smallest stored int8 value over the axes of input 1 (a constant int32 vector; negative
 * counts from the back, repeats allowed); ReducerOptions.keep_dims keeps the reduced dims as 1.
 * No requantization: TFLM requires the output's scale and zero point to equal the input's and
 * compares raw values. An empty reduction (a reduced dim of 0) gives 127, TFLM's initial value. */
#include "tfl_kernel_reduce.h"

static tfl_status reduce_min_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_reduce_extreme_eval(ctx, node, TFL_REDUCE_MIN);
}

TFL_DEFINE_KERNEL(reduce_min, 89, "REDUCE_MIN", tfl_reduce_extreme_prepare, reduce_min_eval);
