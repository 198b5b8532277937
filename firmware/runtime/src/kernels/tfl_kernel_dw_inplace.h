/* DEPTHWISE_CONV_2D over its own input (in-place), planned by toolchain/tinyflash/plan.py
 * (alias_rule, kind "depthwise"): the output tensor starts at the input's first byte.
 *
 * With depth multiplier 1 and NHWC layout, output channel c occupies bytes p * C + c for
 * p < N * OH * OW, a subset of input channel c's bytes (p < N * IH * IW, OH * OW <= IH * IW).
 * The kernel computes output channel c at every pixel into a one-channel scratch buffer
 * (N * OH * OW bytes, from the plan), then copies it into the output: input channel c is then no
 * longer needed, and no other channel's input bytes are touched (TinyEngine's in-place
 * depthwise). Same arithmetic as the out-of-place eval: bit-exact. */
#ifndef TFL_KERNEL_DW_INPLACE_H
#define TFL_KERNEL_DW_INPLACE_H

#include "tfl_kernel.h"
#include "tfl_kernel_conv.h"

/* Prepare's half (in, out validated NHWC, depth multiplier dm): *scratch = -1 when the output
 * does not start at the input's first byte; when it does, it must be the planned form (int8, dm
 * 1, output no larger than the input; else TFL_ERR_PLAN_MISMATCH) and *scratch is the arena
 * offset of the one-channel buffer (tfl_scratch_request: TFL_ERR_PLAN_MISMATCH when the plan has
 * no scratch entry for the op). */
TFL_MUST_CHECK tfl_status tfl_dwconv_inplace_prepare(tfl_context *ctx, const tfl_node *node,
                                                     const tfl_tensor *in, const tfl_tensor *out,
                                                     int32_t dm, int32_t *scratch);

/* The eval of an in-place node (scratch >= 0 from tfl_dwconv_inplace_prepare), parameters `d`
 * as the out-of-place eval's. Returns TFL_OK. */
tfl_status tfl_dwconv_inplace_eval(tfl_context *ctx, const tfl_node *node, const tfl_conv_params *d,
                                   int32_t scratch);

#endif
