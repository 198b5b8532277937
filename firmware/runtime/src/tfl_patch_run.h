/* The interpreter's side of patch-based execution (tfl_patches.h): checked in tfl_init, run by
 * tfl_invoke in place of the prefix's operators. */
#ifndef TFL_PATCH_RUN_H
#define TFL_PATCH_RUN_H

#include "tfl_kernel.h"

/* Arena bytes the plan gives tensor `index`: its tile bytes when it is one of the patch plan's
 * tile tensors, else `bytes` (its whole size). */
int32_t tfl_patch_tensor_bytes(const tfl_interpreter *it, int32_t index, int32_t bytes);

/* After prepare: the patch plan fits the model (see tfl_patches.h); TFL_ERR_PLAN_MISMATCH
 * otherwise. TFL_OK without a patch plan. */
TFL_MUST_CHECK tfl_status tfl_patch_check(tfl_interpreter *it);

/* Runs the prefix tile by tile; error_op names the failing operator. */
TFL_MUST_CHECK tfl_status tfl_patch_run(tfl_interpreter *it);

#endif
