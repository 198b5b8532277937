/* Shared by the resource-variable kernels (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE): the
 * resource id a VAR_HANDLE wrote into its output tensor, read by the ops that take it. */
#ifndef TFL_KERNEL_RESOURCE_H
#define TFL_KERNEL_RESOURCE_H

#include "tfl_kernel.h"

/* A resource-handle tensor: one element of type RESOURCE (or INT32, as TFLM allows). */
int tfl_is_resource_handle(const tfl_tensor *t);

/* In prepare: the id held by input `i` of node (a handle tensor its VAR_HANDLE filled in its own
 * prepare, which runs first), checked against the interpreter's resources. */
TFL_MUST_CHECK tfl_status tfl_resource_input(tfl_context *ctx, const tfl_node *node, int32_t i,
                                             int32_t *id);

#endif
