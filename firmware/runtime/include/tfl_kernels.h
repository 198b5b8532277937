/* Every kernel the runtime has, one line each: TFL_KERNEL(lower_name, builtin_code, "NAME").
 * The kernel object is `tfl_kernel_<lower_name>` in src/kernels/op_<lower_name>.c.
 * Include this file with TFL_KERNEL defined to expand the list, e.g.
 *   #define TFL_KERNEL(lower, code, name) extern const tfl_kernel tfl_kernel_##lower;
 *   #include "tfl_kernels.h"
 *   #undef TFL_KERNEL
 * (No include guard on purpose.) Add a line only once the kernel's file exists. */
#ifndef TFL_KERNEL
#error "define TFL_KERNEL(lower, code, name) before including tfl_kernels.h"
#endif
TFL_KERNEL(add, 0, "ADD")
TFL_KERNEL(average_pool_2d, 1, "AVERAGE_POOL_2D")
TFL_KERNEL(concatenation, 2, "CONCATENATION")
TFL_KERNEL(conv_2d, 3, "CONV_2D")
TFL_KERNEL(depthwise_conv_2d, 4, "DEPTHWISE_CONV_2D")
TFL_KERNEL(depth_to_space, 5, "DEPTH_TO_SPACE")
TFL_KERNEL(dequantize, 6, "DEQUANTIZE")
TFL_KERNEL(fully_connected, 9, "FULLY_CONNECTED")
TFL_KERNEL(logistic, 14, "LOGISTIC")
TFL_KERNEL(max_pool_2d, 17, "MAX_POOL_2D")
TFL_KERNEL(mul, 18, "MUL")
TFL_KERNEL(relu, 19, "RELU")
TFL_KERNEL(relu6, 21, "RELU6")
TFL_KERNEL(reshape, 22, "RESHAPE")
TFL_KERNEL(softmax, 25, "SOFTMAX")
TFL_KERNEL(space_to_depth, 26, "SPACE_TO_DEPTH")
TFL_KERNEL(tanh, 28, "TANH")
TFL_KERNEL(pad, 34, "PAD")
TFL_KERNEL(gather, 36, "GATHER")
TFL_KERNEL(transpose, 39, "TRANSPOSE")
TFL_KERNEL(mean, 40, "MEAN")
TFL_KERNEL(sub, 41, "SUB")
TFL_KERNEL(squeeze, 43, "SQUEEZE")
TFL_KERNEL(strided_slice, 45, "STRIDED_SLICE")
TFL_KERNEL(split, 49, "SPLIT")
TFL_KERNEL(maximum, 55, "MAXIMUM")
TFL_KERNEL(arg_max, 56, "ARG_MAX")
TFL_KERNEL(minimum, 57, "MINIMUM")
TFL_KERNEL(padv2, 60, "PADV2")
TFL_KERNEL(slice, 65, "SLICE")
TFL_KERNEL(transpose_conv, 67, "TRANSPOSE_CONV")
TFL_KERNEL(expand_dims, 70, "EXPAND_DIMS")
TFL_KERNEL(sum, 74, "SUM")
TFL_KERNEL(arg_min, 79, "ARG_MIN")
TFL_KERNEL(reduce_max, 82, "REDUCE_MAX")
TFL_KERNEL(pack, 83, "PACK")
TFL_KERNEL(unpack, 88, "UNPACK")
TFL_KERNEL(reduce_min, 89, "REDUCE_MIN")
TFL_KERNEL(resize_nearest_neighbor, 97, "RESIZE_NEAREST_NEIGHBOR")
TFL_KERNEL(leaky_relu, 98, "LEAKY_RELU")
TFL_KERNEL(abs, 101, "ABS")
TFL_KERNEL(split_v, 102, "SPLIT_V")
TFL_KERNEL(quantize, 114, "QUANTIZE")
TFL_KERNEL(hard_swish, 117, "HARD_SWISH")
