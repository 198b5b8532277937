/* MAX_POOL_2D, int8: the largest element of the window inside the input, clamped to the
 * fused activation range.
 * Options (Pool2DOptions): padding, stride_w, stride_h, filter_width, filter_height, activation. */
#include "tfl_kernel.h"

typedef struct {
  int32_t stride_w, stride_h;
  int32_t filter_w, filter_h;
  int32_t pad_w, pad_h;
  int32_t act_min, act_max;
} max_pool_data;
TFL_OP_DATA_FITS(max_pool_data);

/* Window geometry whose index arithmetic stays far from int32 overflow (hostile models can
 * combine SAME padding with huge dilations or strides). */
static int geometry_ok(int32_t in, int32_t k, int32_t stride, int32_t dilation, int32_t out) {
  const int64_t effective = ((int64_t)k - 1) * dilation + 1;
  return effective <= (1 << 24) && stride <= (1 << 24) && in <= (1 << 30) &&
         (int64_t)out * stride <= (1 << 30);
}

static tfl_status max_pool_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  max_pool_data *d = (max_pool_data *)node->data;
  tfl_status s;
  if (in == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->dims_count != 4 || out->dims_count != 4) return TFL_ERR_BAD_SHAPE;
  int8_t padding, act;
  if ((s = tfl_option_i8(ctx, node, 0, TFL_PADDING_SAME, &padding)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 1, 1, &d->stride_w)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 2, 1, &d->stride_h)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 3, 1, &d->filter_w)) != TFL_OK) return s;
  if ((s = tfl_option_i32(ctx, node, 4, 1, &d->filter_h)) != TFL_OK) return s;
  if ((s = tfl_option_i8(ctx, node, 5, TFL_ACT_NONE, &act)) != TFL_OK) return s;
  if (padding != TFL_PADDING_SAME && padding != TFL_PADDING_VALID) return TFL_ERR_UNSUPPORTED_OPTION;
  if (d->stride_w <= 0 || d->stride_h <= 0 || d->filter_w <= 0 || d->filter_h <= 0) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  const int32_t oh = tfl_conv_output_size(padding, in->dims[1], d->filter_h, d->stride_h, 1);
  const int32_t ow = tfl_conv_output_size(padding, in->dims[2], d->filter_w, d->stride_w, 1);
  if (out->dims[0] != in->dims[0] || out->dims[1] != oh || out->dims[2] != ow ||
      out->dims[3] != in->dims[3]) {
    return TFL_ERR_BAD_SHAPE;
  }
  if (!geometry_ok(in->dims[1], d->filter_h, d->stride_h, 1, oh) ||
      !geometry_ok(in->dims[2], d->filter_w, d->stride_w, 1, ow)) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  d->pad_h = tfl_conv_padding(d->stride_h, 1, in->dims[1], d->filter_h, oh);
  d->pad_w = tfl_conv_padding(d->stride_w, 1, in->dims[2], d->filter_w, ow);
  if (out->quant_count != 1) return TFL_ERR_BAD_QUANTIZATION;
  return tfl_activation_range(act, out->scale, out->zero_point, -128, 127, &d->act_min,
                              &d->act_max);
}

static tfl_status max_pool_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const max_pool_data *d = (const max_pool_data *)node->data;
  const int8_t *x = (const int8_t *)in->data;
  int8_t *y = (int8_t *)out->data;
  const int32_t batches = in->dims[0], ih = in->dims[1], iw = in->dims[2], ch = in->dims[3];
  const int32_t oh = out->dims[1], ow = out->dims[2];
  for (int32_t n = 0; n < batches; ++n) {
    for (int32_t oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * d->stride_h - d->pad_h;
      const int32_t fy0 = tfl_max(0, -y0), fy1 = tfl_min(d->filter_h, ih - y0);
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * d->stride_w - d->pad_w;
        const int32_t fx0 = tfl_max(0, -x0), fx1 = tfl_min(d->filter_w, iw - x0);
        for (int32_t c = 0; c < ch; ++c) {
          int32_t v = -128;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              v = tfl_max(v, x[((n * ih + y0 + fy) * iw + x0 + fx) * ch + c]);
            }
          }
          y[((n * oh + oy) * ow + ox) * ch + c] = (int8_t)tfl_clamp(v, d->act_min, d->act_max);
        }
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(max_pool_2d, 17, "MAX_POOL_2D", max_pool_prepare, max_pool_eval);
