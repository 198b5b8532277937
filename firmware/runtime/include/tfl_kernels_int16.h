/* The kernels that also run 16x8 (int16 activations, int8 weights), one line each:
 * TFL_KERNEL_INT16(lower_name, "NAME"), sorted by name. Each kernel's prepare accepts int16
 * activations and selects its int16 eval there. Same conventions as tfl_kernels.h (no include
 * guard on purpose; define TFL_KERNEL_INT16 before including). */
#ifndef TFL_KERNEL_INT16
#error "define TFL_KERNEL_INT16(lower, name) before including tfl_kernels_int16.h"
#endif
TFL_KERNEL_INT16(average_pool_2d, "AVERAGE_POOL_2D")
TFL_KERNEL_INT16(conv_2d, "CONV_2D")
TFL_KERNEL_INT16(depthwise_conv_2d, "DEPTHWISE_CONV_2D")
TFL_KERNEL_INT16(dequantize, "DEQUANTIZE")
TFL_KERNEL_INT16(fully_connected, "FULLY_CONNECTED")
TFL_KERNEL_INT16(max_pool_2d, "MAX_POOL_2D")
TFL_KERNEL_INT16(mean, "MEAN")
TFL_KERNEL_INT16(quantize, "QUANTIZE")
TFL_KERNEL_INT16(softmax, "SOFTMAX")
TFL_KERNEL_INT16(transpose_conv, "TRANSPOSE_CONV")
