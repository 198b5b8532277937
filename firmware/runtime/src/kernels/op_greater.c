/* GREATER, int8 or int32 inputs -> bool, and int16 (16x8) inputs -> bool (see
 * tfl_kernel_compare.c for the arithmetic; prepare selects the int16 eval for int16 inputs). */
#include "tfl_kernel_compare.h"

TFL_DEFINE_KERNEL16(greater_int16, 61, "GREATER", greater_prepare, tfl_compare_eval16);

static tfl_status greater_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  if (in1 != NULL && TFL_IS_INT16(in1)) {
    node->kernel = &greater_int16; /* the int16 eval from now on */
    return tfl_compare_prepare16(ctx, node, TFL_CMP_GREATER);
  }
  return tfl_compare_prepare(ctx, node, TFL_CMP_GREATER);
}

TFL_DEFINE_KERNEL(greater, 61, "GREATER", greater_prepare, tfl_compare_eval);
