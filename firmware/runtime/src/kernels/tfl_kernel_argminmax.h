/* ARG_MAX and ARG_MIN: one prepare and one scan, the comparison chosen by the op. */
#ifndef TFL_KERNEL_ARGMINMAX_H
#define TFL_KERNEL_ARGMINMAX_H

#include "tfl_kernel.h"

/* Validates int8 input, constant one-element int32 axis, int32 output with the input's shape
 * minus the axis; stores the outer/axis/inner sizes in node->data. */
TFL_MUST_CHECK tfl_status tfl_argminmax_prepare(tfl_context *ctx, tfl_node *node);
/* want_max 1: index of the first largest value along the axis; 0: of the first smallest. */
void tfl_argminmax_eval(tfl_context *ctx, const tfl_node *node, int want_max);

#endif
