/* LOGICAL_AND and LOGICAL_OR: two bool inputs that broadcast NumPy-style to a bool output
 * (each stored byte is 0 or 1; any non-zero input byte counts as true). */
#ifndef TFL_KERNEL_LOGICAL_H
#define TFL_KERNEL_LOGICAL_H

#include "tfl_kernel.h"

typedef enum { TFL_LOGICAL_AND, TFL_LOGICAL_OR } tfl_logical_kind;

/* Both inputs and the output present and bool, shapes that broadcast. */
TFL_MUST_CHECK tfl_status tfl_logical_prepare(tfl_context *ctx, tfl_node *node,
                                              tfl_logical_kind kind);
TFL_MUST_CHECK tfl_status tfl_logical_eval(tfl_context *ctx, tfl_node *node);

#endif
