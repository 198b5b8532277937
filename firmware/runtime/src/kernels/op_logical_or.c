/* LOGICAL_OR, bool (see tfl_kernel_logical.c). */
#include "tfl_kernel_logical.h"

static tfl_status logical_or_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_logical_prepare(ctx, node, TFL_LOGICAL_OR);
}

TFL_DEFINE_KERNEL(logical_or, 84, "LOGICAL_OR", logical_or_prepare, tfl_logical_eval);
