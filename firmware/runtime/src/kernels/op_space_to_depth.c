/* SPACE_TO_DEPTH, int8 NHWC (TFLM reference semantics).
 *
 * Each block_size x block_size patch of the input becomes one output pixel:
 *   out[b][h][w][(i * block_size + j) * C + c] = in[b][h * block_size + i][w * block_size + j][c]
 * Bytes are copied as they are (no quantization). Height and width must be multiples of
 * SpaceToDepthOptions.block_size (>= 1). */
#include "tfl_kernel_space_depth.h"

TFL_DEFINE_KERNEL(space_to_depth, 26, "SPACE_TO_DEPTH", tfl_space_depth_prepare,
                  tfl_space_depth_eval);
