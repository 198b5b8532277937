/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND: rank-3 (N, H, C) or rank-4 (N, H, W, C) tensors with
 * a constant int32 block shape (one entry per spatial dim) and constant int32 paddings / crops
 * ([spatial dims, 2]), as TFLM runs them. */
#ifndef TFL_KERNEL_BATCHSPACE_H
#define TFL_KERNEL_BATCHSPACE_H

#include "tfl_kernel.h"

typedef struct {
  int32_t block_h;
  int32_t block_w;
  int32_t before_h; /* padding (SPACE_TO_BATCH_ND) or crop (BATCH_TO_SPACE_ND) before */
  int32_t before_w;
  int32_t space_h; /* spatial size of the space-side tensor (input or output) */
  int32_t space_w;
  int32_t batch_h; /* spatial size of the batch-side tensor */
  int32_t batch_w;
  int32_t space_n; /* batch size of the space-side tensor */
  int32_t depth;
  int32_t pad_value; /* SPACE_TO_BATCH_ND: byte written where the padding is */
} tfl_batchspace_data;

/* to_batch 1: SPACE_TO_BATCH_ND (input is the space side), 0: BATCH_TO_SPACE_ND. */
TFL_MUST_CHECK tfl_status tfl_batchspace_prepare(tfl_context *ctx, tfl_node *node, int to_batch);

#endif
