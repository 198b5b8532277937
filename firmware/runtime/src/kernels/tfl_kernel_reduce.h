/* Reductions over a constant list of axes (REDUCE_MAX, REDUCE_MIN, SUM): the shape checks of
 * prepare and one walk over the input that folds each output's elements. */
#ifndef TFL_KERNEL_REDUCE_H
#define TFL_KERNEL_REDUCE_H

#include "tfl_kernel.h"

typedef struct {
  int32_t reduced_mask; /* bit d: input dim d is reduced */
  int32_t count;        /* input elements folded into each output */
} tfl_reduce_shape;

/* Input 0 int8 (or int16, which MEAN and SUM run: 16x8), input 1 a constant int32 axes vector (negative counts from the back, repeats
 * allowed), output 0 int8 with the input's shape minus the reduced dims, or with 1 in their
 * place when ReducerOptions.keep_dims is set. */
/* *in and *out: the node's input 0 and output 0. */
TFL_MUST_CHECK tfl_status tfl_reduce_prepare(tfl_context *ctx, const tfl_node *node,
                                             tfl_reduce_shape *shape, const tfl_tensor **in,
                                             const tfl_tensor **out);

typedef enum { TFL_REDUCE_SUM, TFL_REDUCE_MAX, TFL_REDUCE_MIN } tfl_reduce_kind;

/* The value stored for one output (in the output type's range) from its folded accumulator. */
typedef int32_t (*tfl_reduce_finish)(int32_t acc, const void *user);

/* For every output element, in order: folds its input elements (sum in int32 wrapping like the
 * reference, or max/min) and calls finish(acc, user) for the stored value. shape->count must
 * be > 0 (the caller fills outputs of empty reductions itself). */
void tfl_reduce_int8(const tfl_tensor *in, const tfl_reduce_shape *shape, tfl_reduce_kind kind,
                     tfl_reduce_finish finish, const void *user, int8_t *out, int32_t out_count);

/* SUM and MEAN: node->data starts with the op's tfl_reduce_shape; each output is
 * finish(wrapped int32 sum of its elements, a copy of node->data), int8 or int16 (16x8). An empty reduction gives 0,
 * as in TFLM. */
TFL_MUST_CHECK tfl_status tfl_reduce_sum_eval(tfl_context *ctx, const tfl_node *node,
                                              tfl_reduce_finish finish);

/* REDUCE_MAX / REDUCE_MIN: prepare checks the shapes and that the output's quantization equals
 * the input's (the raw values are compared); eval folds with `kind`, and an empty reduction
 * gives TFLM's initial value (-128 for MAX, 127 for MIN). */
TFL_MUST_CHECK tfl_status tfl_reduce_extreme_prepare(tfl_context *ctx, tfl_node *node);
TFL_MUST_CHECK tfl_status tfl_reduce_extreme_eval(tfl_context *ctx, tfl_node *node,
                                                  tfl_reduce_kind kind);

#endif
