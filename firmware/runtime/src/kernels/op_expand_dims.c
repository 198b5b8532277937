/* EXPAND_DIMS: a view of its input under another shape (tfl_kernel_view.h). */
#include "tfl_kernel_view.h"

TFL_DEFINE_KERNEL(expand_dims, 70, "EXPAND_DIMS", tfl_view_prepare, tfl_view_eval);
