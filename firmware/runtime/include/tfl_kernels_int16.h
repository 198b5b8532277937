/* The kernels that also run 16x8 (int16 activations, int8 weights), one line each:
 * TFL_KERNEL_INT16(lower_name, "NAME"), sorted by name. Each kernel's prepare accepts int16
 * activations and selects its int16 eval there. Same conventions as tfl_kernels.h (no include
 * guard on purpose; define TFL_KERNEL_INT16 before including). */
#ifndef TFL_KERNEL_INT16
#error "define TFL_KERNEL_INT16(lower, name) before including tfl_kernels_int16.h"
#endif
TFL_KERNEL_INT16(add, "ADD")
TFL_KERNEL_INT16(broadcast_to, "BROADCAST_TO")
TFL_KERNEL_INT16(concatenation, "CONCATENATION")
TFL_KERNEL_INT16(expand_dims, "EXPAND_DIMS")
TFL_KERNEL_INT16(leaky_relu, "LEAKY_RELU")
TFL_KERNEL_INT16(logistic, "LOGISTIC")
TFL_KERNEL_INT16(mul, "MUL")
TFL_KERNEL_INT16(pack, "PACK")
TFL_KERNEL_INT16(pad, "PAD")
TFL_KERNEL_INT16(padv2, "PADV2")
TFL_KERNEL_INT16(relu, "RELU")
TFL_KERNEL_INT16(relu6, "RELU6")
TFL_KERNEL_INT16(reshape, "RESHAPE")
TFL_KERNEL_INT16(reverse_v2, "REVERSE_V2")
TFL_KERNEL_INT16(slice, "SLICE")
TFL_KERNEL_INT16(split, "SPLIT")
TFL_KERNEL_INT16(split_v, "SPLIT_V")
TFL_KERNEL_INT16(squeeze, "SQUEEZE")
TFL_KERNEL_INT16(strided_slice, "STRIDED_SLICE")
TFL_KERNEL_INT16(sub, "SUB")
TFL_KERNEL_INT16(tanh, "TANH")
TFL_KERNEL_INT16(transpose, "TRANSPOSE")
TFL_KERNEL_INT16(unpack, "UNPACK")
