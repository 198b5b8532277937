/* Broadcasting for the binary elementwise kernels (SUB, MUL, MAXIMUM, MINIMUM; ADD can adopt
 * it): the NumPy-style shape check for prepare and a walk over the output in rows for eval.
 *
 * The walk lists the output's dims innermost first, with size-1 dims dropped and neighbouring
 * dims that broadcast the same way merged; each input steps along a dim by its element stride,
 * or by 0 where it broadcasts. Same-shape inputs give one row of every element. Each row goes
 * to the kernel's row function with both inputs' element steps. */
#ifndef TFL_KERNEL_BROADCAST_H
#define TFL_KERNEL_BROADCAST_H

#include "tfl_kernel.h"

/* Computes out[i] for i in [0, n) from in1[i * step1] and in2[i * step2] (steps >= 0);
 * `params` is the kernel's own data. */
typedef void (*tfl_broadcast_row)(const void *params, const int8_t *in1, int32_t step1,
                                  const int8_t *in2, int32_t step2, int8_t *out, int32_t n);

/* TFL_OK when out's shape is the broadcast of a's and b's shapes, else TFL_ERR_BAD_SHAPE. */
TFL_MUST_CHECK tfl_status tfl_broadcast_check(const tfl_tensor *a, const tfl_tensor *b,
                                              const tfl_tensor *out);

/* Runs `row` over the whole int8 output in order; nothing for an empty output. The shapes
 * were checked by tfl_broadcast_check in prepare. */
void tfl_broadcast_run(const tfl_tensor *in1, const tfl_tensor *in2, const tfl_tensor *out,
                       tfl_broadcast_row row, const void *params);

#endif
