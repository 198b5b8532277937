/* AVERAGE_POOL_2D, int8: the mean of the window's elements inside the input (padding is not
 * counted), rounded half away from zero with integer division, then clamped to the fused
 * activation range. Input and output share scale and zero point, as TFLite requires.
 * Options and shapes are checked by tfl_pool2d_prepare (tfl_kernel_pool2d.h). */
#include "tfl_kernel_pool2d.h"

static tfl_status average_pool_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_pool2d_prepare(ctx, node);
}

static tfl_status average_pool_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_pool2d_eval(ctx, node, TFL_POOL2D_AVERAGE);
}

TFL_DEFINE_KERNEL(average_pool_2d, 1, "AVERAGE_POOL_2D", average_pool_prepare, average_pool_eval);
