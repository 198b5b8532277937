/* BATCH_TO_SPACE_ND, int8 (TFLM reference semantics), rank 3 or 4; the inverse of
 * SPACE_TO_BATCH_ND followed by a crop (crops: constant int32 [spatial, 2]):
 *   out[n][h][w][c] = in[(i * bw + j) * N + n][(h + crop_h) / bh][(w + crop_w) / bw][c]
 * with i = (h + crop_h) % bh and j = (w + crop_w) % bw. Bytes are copied as they are. */
#include "tfl_kernel_batchspace.h"

static tfl_status batch_to_space_nd_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_batchspace_prepare(ctx, node, 0);
}

static tfl_status batch_to_space_nd_eval(tfl_context *ctx, tfl_node *node) {
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int8_t *y = tfl_output_i8(ctx, node, 0);
  int32_t n, h, w;
  tfl_batchspace_data d;
  memcpy(&d, node->data, sizeof d);
  for (n = 0; n < d.space_n; ++n) {
    for (h = 0; h < d.space_h; ++h) {
      const int32_t ph = h + d.before_h;
      for (w = 0; w < d.space_w; ++w) {
        const int32_t pw = w + d.before_w;
        const int32_t b = ((ph % d.block_h) * d.block_w + pw % d.block_w) * d.space_n + n;
        memcpy(
            y,
            x + (((size_t)b * d.batch_h + ph / d.block_h) * d.batch_w + pw / d.block_w) * d.depth,
            (size_t)d.depth);
        y += d.depth;
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(batch_to_space_nd, 37, "BATCH_TO_SPACE_ND", batch_to_space_nd_prepare,
                  batch_to_space_nd_eval);
