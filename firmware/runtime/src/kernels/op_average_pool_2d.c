/* AVERAGE_POOL_2D, int8: the mean of the window's elements inside the input (padding is not
 * counted), rounded half away from zero with integer division, then clamped to the fused
 * activation range. Input and output share scale and zero point, as TFLite requires.
 * Options and shapes are checked by tfl_pool2d_prepare (tfl_kernel_pool2d.h). */
#include "tfl_kernel_pool2d.h"

TFL_DEFINE_KERNEL(average_pool_2d, 1, "AVERAGE_POOL_2D", tfl_pool2d_prepare,
                  tfl_pool2d_average_eval);
