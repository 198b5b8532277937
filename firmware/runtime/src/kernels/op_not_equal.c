/* NOT_EQUAL, int8 or int32 inputs -> bool (see tfl_kernel_compare.c for the arithmetic). */
#include "tfl_kernel_compare.h"

static tfl_status not_equal_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_compare_prepare(ctx, node, TFL_CMP_NOT_EQUAL);
}

TFL_DEFINE_KERNEL(not_equal, 72, "NOT_EQUAL", not_equal_prepare, tfl_compare_eval);
