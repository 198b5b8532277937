/* ARG_MAX, int8 input -> int32 positions (see tfl_kernel_argminmax.c for the semantics). */
#include "tfl_kernel_argminmax.h"

static tfl_status arg_max_eval(tfl_context *ctx, tfl_node *node) {
  tfl_argminmax_eval(ctx, node, 1);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(arg_max, 56, "ARG_MAX", tfl_argminmax_prepare, arg_max_eval);
