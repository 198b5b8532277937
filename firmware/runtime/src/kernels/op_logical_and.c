/* LOGICAL_AND, bool (see tfl_kernel_logical.c). */
#include "tfl_kernel_logical.h"

static tfl_status logical_and_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_logical_prepare(ctx, node, TFL_LOGICAL_AND);
}

TFL_DEFINE_KERNEL(logical_and, 86, "LOGICAL_AND", logical_and_prepare, tfl_logical_eval);
