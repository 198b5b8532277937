/* Prepare steps of the convolution family (see the header). */
#include "tfl_kernel_conv.h"

#include "tfl_kernel_int16.h"

tfl_status tfl_weight_op_tensors(tfl_context *ctx, const tfl_node *node, const tfl_tensor **in,
                                 const tfl_tensor **w, const tfl_tensor **bias,
                                 const tfl_tensor **out) {
  const tfl_tensor *x = tfl_node_input(ctx, node, 0);
  const tfl_tensor *f = tfl_node_input(ctx, node, 1);
  const tfl_tensor *b = tfl_node_input(ctx, node, 2);
  const tfl_tensor *y = tfl_node_output(ctx, node, 0);
  if (x == NULL || f == NULL || y == NULL) return TFL_ERR_MODEL_INVALID;
  /* int8, or 16x8: int16 activations with int8 weights and an int64 (or int32) bias */
  const int wide = TFL_IS_INT16(x);
  if ((x->type != TFL_TYPE_INT8 && !wide) || f->type != TFL_TYPE_INT8 || y->type != x->type) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  if (b != NULL && b->type != TFL_TYPE_INT32 && !(wide && b->type == TFL_TYPE_INT64)) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  *in = x;
  *w = f;
  *bias = b;
  *out = y;
  return TFL_OK;
}

tfl_status tfl_conv_tensors(tfl_context *ctx, const tfl_node *node, const tfl_tensor **in,
                            const tfl_tensor **w, const tfl_tensor **bias, const tfl_tensor **out) {
  TFL_ENSURE(tfl_weight_op_tensors(ctx, node, in, w, bias, out));
  if ((*in)->dims_count != 4 || (*w)->dims_count != 4 || (*out)->dims_count != 4) {
    return TFL_ERR_BAD_SHAPE;
  }
  return TFL_OK;
}

tfl_status tfl_conv_options(tfl_context *ctx, const tfl_node *node, int32_t *depth_multiplier,
                            int8_t *padding, int8_t *activation, tfl_conv_params *p) {
  const int field = depth_multiplier != NULL ? 4 : 3; /* the activation's field */
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_PADDING_SAME, padding));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 1, &p->stride_w));
  TFL_ENSURE(tfl_option_i32(ctx, node, 2, 1, &p->stride_h));
  if (depth_multiplier != NULL) TFL_ENSURE(tfl_option_i32(ctx, node, 3, 1, depth_multiplier));
  TFL_ENSURE(tfl_option_i8(ctx, node, field, TFL_ACT_NONE, activation));
  TFL_ENSURE(tfl_option_i32(ctx, node, field + 1, 1, &p->dilation_w));
  TFL_ENSURE(tfl_option_i32(ctx, node, field + 2, 1, &p->dilation_h));
  if (*padding != TFL_PADDING_SAME && *padding != TFL_PADDING_VALID) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  if (p->stride_w <= 0 || p->stride_h <= 0 || p->dilation_w <= 0 || p->dilation_h <= 0) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  return TFL_OK;
}

/* Window geometry whose index arithmetic stays far from int32 overflow (hostile models can
 * combine SAME padding with huge dilations or strides). */
static int conv_geometry_ok(int32_t in, int32_t k, int32_t stride, int32_t dilation, int32_t out) {
  const int64_t effective = ((int64_t)k - 1) * dilation + 1;
  return effective <= (1 << 24) && stride <= (1 << 24) && in <= (1 << 30) &&
         (int64_t)out * stride <= (1 << 30);
}

tfl_status tfl_conv_geometry(const tfl_tensor *in, const tfl_tensor *out, int32_t kh, int32_t kw,
                             int8_t padding, tfl_conv_params *p) {
  const int32_t oh = tfl_conv_output_size(padding, in->dims[1], kh, p->stride_h, p->dilation_h);
  const int32_t ow = tfl_conv_output_size(padding, in->dims[2], kw, p->stride_w, p->dilation_w);
  if (oh != out->dims[1] || ow != out->dims[2]) return TFL_ERR_BAD_SHAPE;
  if (!conv_geometry_ok(in->dims[1], kh, p->stride_h, p->dilation_h, oh) ||
      !conv_geometry_ok(in->dims[2], kw, p->stride_w, p->dilation_w, ow)) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  p->pad_h = tfl_conv_padding(p->stride_h, p->dilation_h, in->dims[1], kh, oh);
  p->pad_w = tfl_conv_padding(p->stride_w, p->dilation_w, in->dims[2], kw, ow);
  return TFL_OK;
}

tfl_status tfl_conv_quantization(tfl_context *ctx, const tfl_tensor *in, const tfl_tensor *w,
                                 const tfl_tensor *out, int32_t channels, int32_t quant_dim,
                                 int8_t activation, tfl_conv_params *p) {
  if (in->quant_count != 1 || out->quant_count != 1) return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f) || !(out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (w->quant_count != 1 && !(w->quant_count == channels && w->quant_dim == quant_dim)) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  for (int32_t c = 0; c < w->quant_count; ++c) {
    if (tfl_tensor_channel_zero_point(w, c) != 0) return TFL_ERR_BAD_QUANTIZATION;
  }
  const int wide = TFL_IS_INT16(in); /* 16x8: symmetric int16 activations */
  if (wide && (in->zero_point != 0 || out->zero_point != 0)) return TFL_ERR_BAD_QUANTIZATION;
  TFL_ENSURE(tfl_activation_range(activation, out->scale, out->zero_point, wide ? -32768 : -128,
                                  wide ? 32767 : 127, &p->act_min, &p->act_max));
  TFL_ENSURE(tfl_conv_multipliers(ctx, in, w, out, &p->pool_index));
  if (wide && !tfl_int16_multipliers_ok(ctx->mem.pool + p->pool_index, w->quant_count)) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  p->input_offset = -in->zero_point;
  p->output_offset = out->zero_point;
  return TFL_OK;
}

tfl_status tfl_conv_multipliers(tfl_context *ctx, const tfl_tensor *in, const tfl_tensor *w,
                                const tfl_tensor *out, int32_t *pool_index) {
  int32_t *pool;
  const int32_t scales = w->quant_count; /* 1 (per-tensor) or one per channel: checked */
  TFL_ENSURE(tfl_pool_alloc(ctx, 2 * scales, &pool));
  *pool_index = (int32_t)(pool - ctx->mem.pool);
  for (int32_t c = 0; c < scales; ++c) {
    const double real =
        (double)in->scale * (double)tfl_tensor_channel_scale(w, c) / (double)out->scale;
    tfl_quantize_multiplier(real, &pool[c], &pool[scales + c]);
  }
  return TFL_OK;
}
