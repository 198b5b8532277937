/* The kernels that also run 16x8 quantization (int16 activations, int8 weights, int64 or int32
 * bias), one line each, sorted by name: TFL_KERNEL_INT16(lower_name, "NAME"). Every name is a
 * kernel of tfl_kernels.h; its prepare accepts int16 activations and selects the int16 eval
 * there (one prepare for both types). `tinyflash check` reads this list (opcheck.py): a 16x8
 * model is deployable when every op is named here. Include with TFL_KERNEL_INT16 defined
 * (no include guard on purpose). Add a line only once the kernel's int16 path exists. */
#ifndef TFL_KERNEL_INT16
#error "define TFL_KERNEL_INT16(lower, name) before including tfl_kernels_int16.h"
#endif
TFL_KERNEL_INT16(average_pool_2d, "AVERAGE_POOL_2D")
TFL_KERNEL_INT16(conv_2d, "CONV_2D")
TFL_KERNEL_INT16(depthwise_conv_2d, "DEPTHWISE_CONV_2D")
TFL_KERNEL_INT16(dequantize, "DEQUANTIZE")
TFL_KERNEL_INT16(fully_connected, "FULLY_CONNECTED")
TFL_KERNEL_INT16(max_pool_2d, "MAX_POOL_2D")
TFL_KERNEL_INT16(quantize, "QUANTIZE")
TFL_KERNEL_INT16(softmax, "SOFTMAX")
TFL_KERNEL_INT16(transpose_conv, "TRANSPOSE_CONV")
