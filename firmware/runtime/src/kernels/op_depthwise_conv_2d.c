/* DEPTHWISE_CONV_2D, int8: weights [1, KH, KW, IC * depth_multiplier] per-tensor or per-channel
 * (axis 3, zero points 0), optional int32 bias, stride, dilation, SAME/VALID padding, fused
 * activation. Output channel ic * depth_multiplier + m reads input channel ic.
 * Pool: 2 * OC words (multipliers, then shifts). */
#include "tfl_kernel.h"

/* Accumulator additions wrap (two's complement) instead of overflowing: identical results for
 * every sane model, defined behaviour for hostile ones (e.g. a bias of INT32_MIN). */
static inline int32_t acc_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

typedef struct {
  int32_t stride_w, stride_h;
  int32_t dilation_w, dilation_h;
  int32_t pad_w, pad_h;
  int32_t depth_multiplier;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t pool_index;
} dwconv_data;
TFL_OP_DATA_FITS(dwconv_data);

/* Window geometry whose index arithmetic stays far from int32 overflow (hostile models can
 * combine SAME padding with huge dilations or strides). */
static int geometry_ok(int32_t in, int32_t k, int32_t stride, int32_t dilation, int32_t out) {
  const int64_t effective = ((int64_t)k - 1) * dilation + 1;
  return effective <= (1 << 24) && stride <= (1 << 24) && in <= (1 << 30) &&
         (int64_t)out * stride <= (1 << 30);
}

static tfl_status dwconv_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  const tfl_tensor *bias = tfl_node_input(ctx, node, 2);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  dwconv_data *d = (dwconv_data *)node->data;
  tfl_status s;
  if (in == NULL || w == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || w->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  if (bias != NULL && bias->type != TFL_TYPE_INT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->dims_count != 4 || w->dims_count != 4 || out->dims_count != 4) return TFL_ERR_BAD_SHAPE;
  const int32_t kh = w->dims[1], kw = w->dims[2], oc = w->dims[3], ic = in->dims[3];
  if (w->dims[0] != 1 || kh <= 0 || kw <= 0 || ic <= 0 || oc <= 0) return TFL_ERR_BAD_SHAPE;

  int8_t padding, act;
  if ((s = tfl_option_i8(ctx, node, 0, TFL_PADDING_SAME, &padding)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 1, 1, &d->stride_w)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 2, 1, &d->stride_h)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 3, 1, &d->depth_multiplier)) != TFL_OK) return s;
  if ((s = tfl_option_i8(ctx, node, 4, TFL_ACT_NONE, &act)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 5, 1, &d->dilation_w)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 6, 1, &d->dilation_h)) != TFL_OK) return s;
  if (padding != TFL_PADDING_SAME && padding != TFL_PADDING_VALID) return TFL_ERR_UNSUPPORTED_OPTION;
  if (d->stride_w <= 0 || d->stride_h <= 0 || d->dilation_w <= 0 || d->dilation_h <= 0) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  if (d->depth_multiplier <= 0 || ic > INT32_MAX / d->depth_multiplier ||
      ic * d->depth_multiplier != oc) {
    return TFL_ERR_BAD_SHAPE;
  }
  if (out->dims[0] != in->dims[0] || out->dims[3] != oc) return TFL_ERR_BAD_SHAPE;
  if (bias != NULL && tfl_tensor_elements(bias) != oc) return TFL_ERR_BAD_SHAPE;
  const int32_t oh = tfl_conv_output_size(padding, in->dims[1], kh, d->stride_h, d->dilation_h);
  const int32_t ow = tfl_conv_output_size(padding, in->dims[2], kw, d->stride_w, d->dilation_w);
  if (oh != out->dims[1] || ow != out->dims[2]) return TFL_ERR_BAD_SHAPE;
  if (!geometry_ok(in->dims[1], kh, d->stride_h, d->dilation_h, oh) ||
      !geometry_ok(in->dims[2], kw, d->stride_w, d->dilation_w, ow)) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  d->pad_h = tfl_conv_padding(d->stride_h, d->dilation_h, in->dims[1], kh, oh);
  d->pad_w = tfl_conv_padding(d->stride_w, d->dilation_w, in->dims[2], kw, ow);

  if (in->quant_count != 1 || out->quant_count != 1) return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f) || !(out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (w->quant_count != 1 && !(w->quant_count == oc && w->quant_dim == 3)) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  for (int32_t c = 0; c < w->quant_count; ++c) {
    if (tfl_tensor_channel_zero_point(w, c) != 0) return TFL_ERR_BAD_QUANTIZATION;
  }
  if ((s = tfl_activation_range(act, out->scale, out->zero_point, -128, 127, &d->act_min,
                                &d->act_max)) != TFL_OK) {
    return s;
  }
  int32_t *pool;
  if ((s = tfl_pool_alloc(ctx, 2 * oc, &pool)) != TFL_OK) return s;
  d->pool_index = (int32_t)(pool - ctx->mem.pool);
  for (int32_t c = 0; c < oc; ++c) {
    const double real =
        (double)in->scale * (double)tfl_tensor_channel_scale(w, c) / (double)out->scale;
    tfl_quantize_multiplier(real, &pool[c], &pool[oc + c]);
  }
  d->input_offset = -in->zero_point;
  d->output_offset = out->zero_point;
  return TFL_OK;
}

static tfl_status dwconv_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  const tfl_tensor *bias = tfl_node_input(ctx, node, 2);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const dwconv_data *d = (const dwconv_data *)node->data;
  const int8_t *x = (const int8_t *)in->data;
  const int8_t *wt = (const int8_t *)w->data;
  const int32_t *b = bias != NULL ? (const int32_t *)bias->data : NULL;
  int8_t *y = (int8_t *)out->data;
  const int32_t batches = in->dims[0], ih = in->dims[1], iw = in->dims[2], ic = in->dims[3];
  const int32_t kh = w->dims[1], kw = w->dims[2], oc = w->dims[3];
  const int32_t oh = out->dims[1], ow = out->dims[2];
  const int32_t dm = d->depth_multiplier;
  const int32_t *mult = ctx->mem.pool + d->pool_index;
  const int32_t *shift = mult + oc;
  for (int32_t n = 0; n < batches; ++n) {
    for (int32_t oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * d->stride_h - d->pad_h;
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * d->stride_w - d->pad_w;
        for (int32_t c_in = 0; c_in < ic; ++c_in) {
          for (int32_t m = 0; m < dm; ++m) {
            const int32_t c = c_in * dm + m;
            int32_t acc = 0;
            for (int32_t fy = 0; fy < kh; ++fy) {
              const int32_t iy = y0 + fy * d->dilation_h;
              if (iy < 0 || iy >= ih) continue;
              for (int32_t fx = 0; fx < kw; ++fx) {
                const int32_t ix = x0 + fx * d->dilation_w;
                if (ix < 0 || ix >= iw) continue;
                acc = acc_add(acc, wt[(fy * kw + fx) * oc + c] *
                                       (x[((n * ih + iy) * iw + ix) * ic + c_in] + d->input_offset));
              }
            }
            if (b != NULL) acc = acc_add(acc, b[c]);
            acc = acc_add(tfl_multiply_by_quantized_multiplier(acc, mult[c], shift[c]), d->output_offset);
            y[((n * oh + oy) * ow + ox) * oc + c] = (int8_t)tfl_clamp(acc, d->act_min, d->act_max);
          }
        }
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(depthwise_conv_2d, 4, "DEPTHWISE_CONV_2D", dwconv_prepare, dwconv_eval);
