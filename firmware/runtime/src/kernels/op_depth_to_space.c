/* DEPTH_TO_SPACE, int8 NHWC (TFLM reference semantics; the inverse of SPACE_TO_DEPTH):
 *   out[b][h * block_size + i][w * block_size + j][c] = in[b][h][w][(i * block_size + j) * C + c]
 * with C = input channels / block_size^2. Bytes are copied as they are (no quantization).
 * DepthToSpaceOptions.block_size >= 1; the input channels must be a multiple of its square. */
#include "tfl_kernel_space_depth.h"

TFL_DEFINE_KERNEL(depth_to_space, 5, "DEPTH_TO_SPACE", tfl_space_depth_prepare,
                  tfl_space_depth_eval);
