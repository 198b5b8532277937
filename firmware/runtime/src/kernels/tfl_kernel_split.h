/* Shared by SPLIT, SPLIT_V and UNPACK: the axis check (a constant index tensor,
 * tfl_kernel_index.h) and the copy of the input's slices into the outputs along the axis; and
 * its mirror, shared by CONCATENATION and PACK: the inputs' slices joined into the output. */
#ifndef TFL_KERNEL_SPLIT_H
#define TFL_KERNEL_SPLIT_H

#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

/* Node data of these kernels. */
typedef struct {
  int32_t axis;  /* -1: each part is one slice of `inner` elements (PACK, UNPACK) */
  int32_t outer; /* product of input dims before the axis */
  int32_t inner; /* product of input dims after the axis, times the element bytes (1 for int8
                  * and bool, 2 for 16x8 int16, 4 for int32): the copies count bytes, one eval
                  * for every type */
  int32_t input; /* the node input that is split (SPLIT: 1, SPLIT_V and UNPACK: 0) */
} tfl_split_data;
TFL_OP_DATA_FITS(tfl_split_data);

/* The constant scalar axis (checked against the input's rank, negative counted from the back)
 * and the num_splits option (must equal the output count). */
TFL_MUST_CHECK tfl_status tfl_split_axis(tfl_context *ctx, const tfl_node *node,
                                         const tfl_tensor *axis_t, const tfl_tensor *in,
                                         int32_t *axis);
/* One output of either: present, of `in`'s type, `in`'s rank and dims except along `axis` (the caller
 * checks that one). */
TFL_MUST_CHECK tfl_status tfl_split_output_check(const tfl_tensor *out, const tfl_tensor *in,
                                                 int32_t axis);
/* Fills d for `axis` of `in` (the whole tensor: the input of a split, the output of a join),
 * node input number `input`; `part_axis` is d->axis: `axis`, or -1 when the parts have no such
 * dim. */
void tfl_split_layout(tfl_split_data *d, const tfl_tensor *in, int32_t axis, int32_t input,
                      int32_t part_axis);
/* The eval of both: copies the split input's slices to the node's outputs, in output order,
 * once per outer index (node->data holds the tfl_split_data). */
TFL_MUST_CHECK tfl_status tfl_split_eval(tfl_context *ctx, tfl_node *node);
/* The eval of CONCATENATION and PACK: the inputs' slices, in input order, joined into output 0
 * once per outer index. */
TFL_MUST_CHECK tfl_status tfl_join_eval(tfl_context *ctx, tfl_node *node);

#endif
