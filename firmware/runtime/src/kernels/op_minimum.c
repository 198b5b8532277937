/* MINIMUM, int8, 16x8 int16 and int32 (TFLM reference semantics): the smaller of the two raw values, element
 * by element, with no requantization; inputs broadcast NumPy-style up to TFL_MAX_DIMS. The row
 * function is shared with the other kernel of the pair (tfl_broadcast_minmax_eval). */
#include "tfl_kernel.h"
#include "tfl_kernel_broadcast.h"

static tfl_status minimum_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_minmax_eval(ctx, node, 0);
}

TFL_DEFINE_KERNEL(minimum, 57, "MINIMUM", tfl_broadcast_prepare_minmax, minimum_eval);
