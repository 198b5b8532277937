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
TFL_KERNEL(concatenation, 2, "CONCATENATION")
TFL_KERNEL(pad, 34, "PAD")
TFL_KERNEL(transpose, 39, "TRANSPOSE")
TFL_KERNEL(strided_slice, 45, "STRIDED_SLICE")
TFL_KERNEL(split, 49, "SPLIT")
TFL_KERNEL(padv2, 60, "PADV2")
TFL_KERNEL(transpose_conv, 67, "TRANSPOSE_CONV")
TFL_KERNEL(pack, 83, "PACK")
TFL_KERNEL(unpack, 88, "UNPACK")
TFL_KERNEL(resize_nearest_neighbor, 97, "RESIZE_NEAREST_NEIGHBOR")
TFL_KERNEL(split_v, 102, "SPLIT_V")
