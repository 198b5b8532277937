/* RESHAPE: a view of its input under another shape (tfl_kernel_view.h). */
#include "tfl_kernel_view.h"

TFL_DEFINE_KERNEL(reshape, 22, "RESHAPE", tfl_view_prepare, tfl_view_eval);
