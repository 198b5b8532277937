/* ARG_MIN, int8 input -> int32 positions (see tfl_kernel_argminmax.c for the semantics). */
#include "tfl_kernel_argminmax.h"

static tfl_status arg_min_eval(tfl_context *ctx, tfl_node *node) {
  tfl_argminmax_eval(ctx, node, 0);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(arg_min, 79, "ARG_MIN", tfl_argminmax_prepare, arg_min_eval);
