/* LESS_EQUAL, int8 or int32 inputs -> bool (see tfl_kernel_compare.c for the arithmetic). */
#include "tfl_kernel_compare.h"

static tfl_status less_equal_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_compare_prepare(ctx, node, TFL_CMP_LESS_EQUAL);
}

TFL_DEFINE_KERNEL(less_equal, 63, "LESS_EQUAL", less_equal_prepare, tfl_compare_eval);
