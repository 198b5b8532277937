/* MAX_POOL_2D, int8: the largest element of the window inside the input, clamped to the
 * fused activation range.
 * Options and shapes are checked by tfl_pool2d_prepare (tfl_kernel_pool2d.h). */
#include "tfl_kernel_pool2d.h"

TFL_DEFINE_KERNEL(max_pool_2d, 17, "MAX_POOL_2D", tfl_pool2d_prepare, tfl_pool2d_max_eval);
