/* RESHAPE, SQUEEZE and EXPAND_DIMS: the output holds the input's elements unchanged under
 * another shape, so the three kernels share one prepare and one eval. When the memory plan
 * aliases output and input (same arena bytes) eval does nothing; otherwise it copies. The output
 * shape is the output tensor's (the converter resolves it), so options are not needed. */
#ifndef TFL_KERNEL_VIEW_H
#define TFL_KERNEL_VIEW_H

#include "tfl_kernel.h"

/* One input and one output of the same type, element count and bytes. */
TFL_MUST_CHECK tfl_status tfl_view_prepare(tfl_context *ctx, tfl_node *node);
/* Copies the input's bytes to the output unless both are the same arena bytes. */
tfl_status tfl_view_eval(tfl_context *ctx, tfl_node *node);

#endif
