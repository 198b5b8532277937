/* Shared by the convolution family (CONV_2D, DEPTHWISE_CONV_2D; TRANSPOSE_CONV and
 * FULLY_CONNECTED take the per-channel multipliers): tensor, option, window-geometry and
 * quantization checks of prepare, and the valid-tap range of eval. Each kernel keeps its own
 * shape checks (filter layout, groups or depth multiplier) between these steps, in the order
 * that decides which status a model with several faults gets. */
#ifndef TFL_KERNEL_CONV_H
#define TFL_KERNEL_CONV_H

#include "tfl_kernel.h"

/* The window and requantization parameters every CONV_2D / DEPTHWISE_CONV_2D node keeps. */
typedef struct {
  int32_t stride_w, stride_h;
  int32_t dilation_w, dilation_h;
  int32_t pad_w, pad_h;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t pool_index; /* multipliers at ctx->mem.pool + pool_index, then as many shifts */
} tfl_conv_params;

/* Inputs 0 (activations), 1 (weights), 2 (optional bias) and output 0: present, int8 (bias
 * int32) or 16x8 (int16 activations and output, int8 weights, bias int64 or int32). Also
 * FULLY_CONNECTED's. */
TFL_MUST_CHECK tfl_status tfl_weight_op_tensors(tfl_context *ctx, const tfl_node *node,
                                                const tfl_tensor **in, const tfl_tensor **w,
                                                const tfl_tensor **bias, const tfl_tensor **out);

/* tfl_weight_op_tensors, with activations, weights and output of rank 4. */
TFL_MUST_CHECK tfl_status tfl_conv_tensors(tfl_context *ctx, const tfl_node *node,
                                           const tfl_tensor **in, const tfl_tensor **w,
                                           const tfl_tensor **bias, const tfl_tensor **out);

/* Conv2DOptions / DepthwiseConv2DOptions: padding (field 0), stride_w (1), stride_h (2), then
 * depth_multiplier (3) when `depth_multiplier` is not NULL, then the fused activation and
 * dilation_w, dilation_h. Checks padding, strides and dilations. */
TFL_MUST_CHECK tfl_status tfl_conv_options(tfl_context *ctx, const tfl_node *node,
                                           int32_t *depth_multiplier, int8_t *padding,
                                           int8_t *activation, tfl_conv_params *p);

/* Output height and width for a kh x kw window (TFLite's SAME/VALID formulas) against the
 * output tensor, index arithmetic far from int32 overflow, and the padding before the first
 * element. */
TFL_MUST_CHECK tfl_status tfl_conv_geometry(const tfl_tensor *in, const tfl_tensor *out, int32_t kh,
                                            int32_t kw, int8_t padding, tfl_conv_params *p);

/* Per-tensor activations, weights with one scale or `channels` scales along `quant_dim` and
 * zero points 0, the activation range, the multipliers (tfl_conv_multipliers) and offsets.
 * int16 activations: zero points 0 and multipliers in tfl_requantize_int64's range. */
TFL_MUST_CHECK tfl_status tfl_conv_quantization(tfl_context *ctx, const tfl_tensor *in,
                                                const tfl_tensor *w, const tfl_tensor *out,
                                                int32_t channels, int32_t quant_dim,
                                                int8_t activation, tfl_conv_params *p);

/* Takes 2 * S pool words (S = w->quant_count: 1 per-tensor or one per output channel): S
 * multipliers of (double)in_scale * (double)w_scale[c] / (double)out_scale, then S shifts.
 * *pool_index is their place in ctx->mem.pool. */
TFL_MUST_CHECK tfl_status tfl_conv_multipliers(tfl_context *ctx, const tfl_tensor *in,
                                               const tfl_tensor *w, const tfl_tensor *out,
                                               int32_t *pool_index);

/* The 16x8 eval of CONV_2D (depth_multiplier 0: weights [OC, KH, KW, IC / groups]) and
 * DEPTHWISE_CONV_2D (weights [1, KH, KW, IC * depth_multiplier]): int16 activations, int8
 * weights, an int64 accumulator requantized as TFLM does (tfl_requantize_int64), or an int32
 * one when the bias is int32 (TFLM's int32-bias form). */
TFL_MUST_CHECK tfl_status tfl_conv16_eval(tfl_context *ctx, const tfl_node *node,
                                          const tfl_conv_params *p, int32_t groups,
                                          int32_t depth_multiplier);

/* Eval's view of the family's tensors (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED; prepare
 * checked them): activations, weights and output with their data, and the bias data (NULL
 * without a bias). */
typedef struct {
  const tfl_tensor *in, *w, *out;
  const int8_t *x, *wt;
  const int32_t *b;
  int8_t *y;
} tfl_conv_io;

static inline tfl_conv_io tfl_conv_eval_io(tfl_context *ctx, const tfl_node *node) {
  const tfl_tensor *bias = tfl_node_input(ctx, node, 2);
  tfl_conv_io t;
  t.in = tfl_node_input(ctx, node, 0);
  t.w = tfl_node_input(ctx, node, 1);
  t.out = tfl_node_output(ctx, node, 0);
  t.x = (const int8_t *)t.in->data;
  t.wt = (const int8_t *)t.w->data;
  t.b = bias != NULL ? (const int32_t *)bias->data : NULL;
  t.y = (int8_t *)t.out->data;
  return t;
}

/* First and one-past-last filter taps whose input coordinate origin + f * dilation lies in
 * [0, size). */
static inline void tfl_conv_valid_taps(int32_t origin, int32_t dilation, int32_t size, int32_t taps,
                                       int32_t *first, int32_t *last) {
  int32_t f0 = 0, f1 = taps;
  while (f0 < taps && origin + f0 * dilation < 0) ++f0;
  while (f1 > f0 && origin + (f1 - 1) * dilation >= size) --f1;
  *first = f0;
  *last = f1;
}

#endif
