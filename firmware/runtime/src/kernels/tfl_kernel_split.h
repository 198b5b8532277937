/* Shared by SPLIT and SPLIT_V: the axis check (a constant index tensor, tfl_kernel_index.h)
 * and the copy of the input's slices into the outputs along the axis. */
#ifndef TFL_KERNEL_SPLIT_H
#define TFL_KERNEL_SPLIT_H

#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

/* Node data of both kernels. */
typedef struct {
  int32_t axis;
  int32_t outer; /* product of input dims before the axis */
  int32_t inner; /* product of input dims after the axis, times the element bytes */
  int32_t input; /* the node input that is split (SPLIT: 1, SPLIT_V: 0) */
} tfl_split_data;
TFL_OP_DATA_FITS(tfl_split_data);

/* The constant scalar axis (checked against the input's rank, negative counted from the back)
 * and the num_splits option (must equal the output count). */
TFL_MUST_CHECK tfl_status tfl_split_axis(tfl_context *ctx, const tfl_node *node,
                                         const tfl_tensor *axis_t, const tfl_tensor *in,
                                         int32_t *axis);
/* One output of either: present, of `in`'s type, rank and dims except along `axis` (the caller
 * checks that one). */
TFL_MUST_CHECK tfl_status tfl_split_output_check(const tfl_tensor *out, const tfl_tensor *in,
                                                 int32_t axis);
/* Fills d for `axis` of `in`, node input number `input`. */
void tfl_split_layout(tfl_split_data *d, const tfl_tensor *in, int32_t axis, int32_t input);
/* The eval of both: copies the split input's slices to the node's outputs, in output order,
 * once per outer index (node->data holds the tfl_split_data). */
TFL_MUST_CHECK tfl_status tfl_split_eval(tfl_context *ctx, tfl_node *node);

#endif
