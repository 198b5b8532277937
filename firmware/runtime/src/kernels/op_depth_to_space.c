/* DEPTH_TO_SPACE, int8 NHWC (TFLM reference semantics; the inverse of SPACE_TO_DEPTH):
 *   out[b][h * block_size + i][w * block_size + j][c] = in[b][h][w][(i * block_size + j) * C + c]
 * with C = input channels / block_size^2. Bytes are copied as they are (no quantization).
 * DepthToSpaceOptions.block_size >= 1; the input channels must be a multiple of its square. */
#include "tfl_kernel_space_depth.h"

static tfl_status depth_to_space_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  int32_t bs = 0;
  TFL_ENSURE(tfl_space_depth_prepare(ctx, node, &bs, &in, &out));
  if (bs > 46340) return TFL_ERR_UNSUPPORTED_OPTION; /* bs * bs fits in int32 */
  if (in->dims[3] % (bs * bs) != 0 || out->dims[0] != in->dims[0] ||
      (int64_t)out->dims[1] != (int64_t)in->dims[1] * bs ||
      (int64_t)out->dims[2] != (int64_t)in->dims[2] * bs || out->dims[3] != in->dims[3] / (bs * bs))
    return TFL_ERR_BAD_SHAPE;
  node->data[0] = bs;
  return TFL_OK;
}

static tfl_status depth_to_space_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_space_depth_eval(ctx, node, 0);
}

TFL_DEFINE_KERNEL(depth_to_space, 5, "DEPTH_TO_SPACE", depth_to_space_prepare,
                  depth_to_space_eval);
