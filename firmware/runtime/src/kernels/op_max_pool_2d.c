/* MAX_POOL_2D, int8: the largest element of the window inside the input, clamped to the
 * fused activation range.
 * Options and shapes are checked by tfl_pool2d_prepare (tfl_kernel_pool2d.h). */
#include "tfl_kernel_pool2d.h"

static tfl_status max_pool_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_pool2d_prepare(ctx, node);
}

static tfl_status max_pool_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_pool2d_eval(ctx, node, TFL_POOL2D_MAX);
}

TFL_DEFINE_KERNEL(max_pool_2d, 17, "MAX_POOL_2D", max_pool_prepare, max_pool_eval);
