/* SPACE_TO_DEPTH, int8 NHWC (TFLM reference semantics).
 *
 * Each block_size x block_size patch of the input becomes one output pixel:
 *   out[b][h][w][(i * block_size + j) * C + c] = in[b][h * block_size + i][w * block_size + j][c]
 * Bytes are copied as they are (no quantization). Height and width must be multiples of
 * SpaceToDepthOptions.block_size (>= 1). */
#include "tfl_kernel_space_depth.h"

static tfl_status space_to_depth_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  int32_t bs = 0;
  TFL_ENSURE(tfl_space_depth_prepare(ctx, node, &bs, &in, &out));
  if (in->dims[1] % bs != 0 || in->dims[2] % bs != 0 || out->dims[0] != in->dims[0] ||
      out->dims[1] != in->dims[1] / bs || out->dims[2] != in->dims[2] / bs ||
      (int64_t)out->dims[3] != (int64_t)in->dims[3] * bs * bs)
    return TFL_ERR_BAD_SHAPE;
  node->data[0] = bs;
  return TFL_OK;
}

static tfl_status space_to_depth_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_space_depth_eval(ctx, node, 1);
}

TFL_DEFINE_KERNEL(space_to_depth, 26, "SPACE_TO_DEPTH", space_to_depth_prepare,
                  space_to_depth_eval);
