/* SPACE_TO_DEPTH and DEPTH_TO_SPACE (int8 NHWC): the same byte permutation in the two
 * directions, between a "space" tensor [B][H * bs][W * bs][C] and its "depth" form
 * [B][H][W][bs * bs * C], where depth channel (i * bs + j) * C + c is space pixel
 * (h * bs + i, w * bs + j), channel c. */
#ifndef TFL_KERNEL_SPACE_DEPTH_H
#define TFL_KERNEL_SPACE_DEPTH_H

#include "tfl_kernel.h"

/* The kernel functions of both ops, which the builtin code tells apart (SPACE_TO_DEPTH: space
 * into depth). Prepare: one int8 input and output, both rank 4, block_size (option 0) >= 1
 * (DEPTH_TO_SPACE: at most 46340, so that its square fits in int32), the depth tensor's shape
 * [B][H][W][bs * bs * C] against the space tensor's [B][H * bs][W * bs][C]; node->data keeps
 * block_size and the direction. Eval: tfl_space_depth_copy from input 0 to output 0. */
TFL_MUST_CHECK tfl_status tfl_space_depth_prepare(tfl_context *ctx, tfl_node *node);
TFL_MUST_CHECK tfl_status tfl_space_depth_eval(tfl_context *ctx, tfl_node *node);

/* Copies `src` into `dst`: space into depth when to_depth is set, depth into space otherwise.
 * h, w: the depth tensor's height and width; c: the space tensor's channels. */
void tfl_space_depth_copy(const int8_t *src, int8_t *dst, int32_t batches, int32_t h, int32_t w,
                          int32_t bs, int32_t c, int to_depth);

#endif
