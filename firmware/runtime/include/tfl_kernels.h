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
