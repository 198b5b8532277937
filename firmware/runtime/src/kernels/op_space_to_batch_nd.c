/* SPACE_TO_BATCH_ND, int8 (TFLM reference semantics), rank 3 or 4.
 *
 * The padded input (paddings: constant int32 [spatial, 2]) is cut into block_h x block_w
 * phases; phase (i, j) of input batch n becomes output batch (i * block_w + j) * N + n:
 *   out[(i * bw + j) * N + n][h][w][c] = padded[n][h * bh + i][w * bw + j][c]
 * Padding positions get the output zero point (TFLite's value for a quantized 0). TFLM writes
 * an uninitialised field there instead (SpaceToBatchParams.output_offset is never set), so only
 * the values taken from the input can be compared with it. Bytes are copied as they are. */
#include "tfl_kernel_batchspace.h"

static tfl_status space_to_batch_nd_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_batchspace_prepare(ctx, node, 1);
}

static tfl_status space_to_batch_nd_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int8_t *y = tfl_output_i8(ctx, node, 0);
  const int32_t out_batches = out->dims[0];
  int32_t ob, h, w;
  tfl_batchspace_data d;
  memcpy(&d, node->data, sizeof d);
  for (ob = 0; ob < out_batches; ++ob) {
    const int32_t n = ob % d.space_n;
    const int32_t phase = ob / d.space_n;
    const int32_t i = phase / d.block_w;
    const int32_t j = phase % d.block_w;
    for (h = 0; h < d.batch_h; ++h) {
      const int32_t ih = h * d.block_h + i - d.before_h;
      for (w = 0; w < d.batch_w; ++w) {
        const int32_t iw = w * d.block_w + j - d.before_w;
        if (ih < 0 || ih >= d.space_h || iw < 0 || iw >= d.space_w) {
          memset(y, d.pad_value & 0xff, (size_t)d.depth);
        } else {
          memcpy(y, x + (((size_t)n * d.space_h + ih) * d.space_w + iw) * d.depth, (size_t)d.depth);
        }
        y += d.depth;
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(space_to_batch_nd, 38, "SPACE_TO_BATCH_ND", space_to_batch_nd_prepare,
                  space_to_batch_nd_eval);
