/* GREATER_EQUAL, int8 or int32 inputs -> bool (see tfl_kernel_compare.c for the arithmetic). */
#include "tfl_kernel_compare.h"

static tfl_status greater_equal_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_compare_prepare(ctx, node, TFL_CMP_GREATER_EQUAL);
}

TFL_DEFINE_KERNEL(greater_equal, 62, "GREATER_EQUAL", greater_equal_prepare, tfl_compare_eval);
