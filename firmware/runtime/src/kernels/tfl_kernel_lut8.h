/* Elementwise int8 -> int8 ops whose output depends only on the input value (RELU, LEAKY_RELU,
 * HARD_SWISH): one value function, applied per element on small tensors and through a table of
 * the 256 possible outputs on big ones. */
#ifndef TFL_KERNEL_LUT8_H
#define TFL_KERNEL_LUT8_H

#include "tfl_kernel.h"

/* The checks of such an op's prepare: input 0 (*in) and output 0 (*out) present, int8,
 * quantized with positive scales, the same element count. */
TFL_MUST_CHECK tfl_status tfl_lut8_prepare(tfl_context *ctx, const tfl_node *node,
                                           const tfl_tensor **in, const tfl_tensor **out);

/* The output for the stored int8 value x; `params` is the op's data (a copy of node->data). */
typedef int8_t (*tfl_lut8_value)(const void *params, int32_t x);

/* The eval of such an op: output 0 = value(node->data, input 0) element by element; from
 * `min_table` elements on, the 256 outputs are computed once and looked up. */
TFL_MUST_CHECK tfl_status tfl_lut8_eval(tfl_context *ctx, const tfl_node *node,
                                        tfl_lut8_value value, int32_t min_table);

/* ---- the int16 (16x8) paths of RELU and LEAKY_RELU: no table (65,536 values) ----------- */

/* tfl_lut8_prepare for int8 (*wide = 0) or int16 (*wide = 1) tensors of one type; int16 zero
 * points must be 0 (symmetric 16x8 activations). */
TFL_MUST_CHECK tfl_status tfl_map_prepare(tfl_context *ctx, const tfl_node *node,
                                          const tfl_tensor **in, const tfl_tensor **out, int *wide);

/* The output for the stored int16 value x, already inside [-32768, 32767]. */
typedef int32_t (*tfl_map16_value)(const void *params, int32_t x);

/* output 0 = value(node->data, input 0) element by element over int16 tensors. */
TFL_MUST_CHECK tfl_status tfl_map16_eval(tfl_context *ctx, const tfl_node *node,
                                         tfl_map16_value value);

/* The int16 kernel object `var` (TFL_DEFINE_KERNEL16) of an elementwise op whose int16 eval is
 * tfl_map16_eval over value_fn: defines that eval too, so each op writes only its value_fn. */
#define TFL_DEFINE_MAP16_KERNEL(var, code, text, prepare_fn, value_fn) \
  static tfl_status var##_eval(tfl_context *ctx, tfl_node *node) {     \
    return tfl_map16_eval(ctx, node, value_fn);                        \
  }                                                                    \
  TFL_DEFINE_KERNEL16(var, code, text, prepare_fn, var##_eval)

#endif
