/* Reading tensors broadcast NumPy-style to a larger output (SELECT_V2, BROADCAST_TO): each
 * input's element strides over the output's dims, 0 along the dims it repeats. */
#ifndef TFL_KERNEL_EXPAND_H
#define TFL_KERNEL_EXPAND_H

#include "tfl_kernel.h"

/* 1 when `in` broadcasts to `out` (rank <= out's; each trailing-aligned dim equal or 1). */
int tfl_expand_ok(const tfl_tensor *in, const tfl_tensor *out);
/* strides[d] for each of out's dims d: in's element stride, or 0 where in repeats. */
void tfl_expand_strides(const tfl_tensor *in, const tfl_tensor *out, int32_t *strides);
/* Advances the output index idx (odometer over out's dims) and the offsets of `count` inputs
 * with their strides; returns nothing (the caller counts elements). */
void tfl_expand_next(const tfl_tensor *out, int32_t *idx, int32_t count,
                     int32_t strides[][TFL_MAX_DIMS], int32_t *offsets);

#endif
