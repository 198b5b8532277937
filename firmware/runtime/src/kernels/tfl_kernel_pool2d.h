/* Window geometry shared by AVERAGE_POOL_2D and MAX_POOL_2D: Pool2DOptions (padding, stride_w,
 * stride_h, filter_width, filter_height, activation), output shape and padding checks, the
 * fused activation range. The NHWC int8 input and output share scale and zero point. */
#ifndef TFL_KERNEL_POOL2D_H
#define TFL_KERNEL_POOL2D_H

#include "tfl_kernel.h"

/* Node data of both pooling kernels. */
typedef struct {
  int32_t stride_w, stride_h;
  int32_t filter_w, filter_h;
  int32_t pad_w, pad_h;
  int32_t act_min, act_max;
} tfl_pool2d_data;
TFL_OP_DATA_FITS(tfl_pool2d_data);

/* Validates the node's tensors and options and writes its tfl_pool2d_data to node->data. */
TFL_MUST_CHECK tfl_status tfl_pool2d_prepare(tfl_context *ctx, tfl_node *node);

/* The evals of AVERAGE_POOL_2D and MAX_POOL_2D, one window walk: each output element is its
 * window's elements inside the input (padding is not counted) folded to their mean, rounded
 * half away from zero with integer division, or to their largest, then clamped to the fused
 * activation range. */
TFL_MUST_CHECK tfl_status tfl_pool2d_average_eval(tfl_context *ctx, tfl_node *node);
TFL_MUST_CHECK tfl_status tfl_pool2d_max_eval(tfl_context *ctx, tfl_node *node);

#endif
