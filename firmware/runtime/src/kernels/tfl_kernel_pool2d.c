/* Prepare of the 2-D pooling kernels (see the header). */
#include "tfl_kernel_pool2d.h"

/* Window geometry whose index arithmetic stays far from int32 overflow (hostile models can
 * combine SAME padding with huge dilations or strides). */
static int pool2d_geometry_ok(int32_t in, int32_t k, int32_t stride, int32_t dilation,
                              int32_t out) {
  const int64_t effective = ((int64_t)k - 1) * dilation + 1;
  return effective <= (1 << 24) && stride <= (1 << 24) && in <= (1 << 30) &&
         (int64_t)out * stride <= (1 << 30);
}

tfl_status tfl_pool2d_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_pool2d_data *d = (tfl_pool2d_data *)node->data;
  if (in == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->dims_count != 4 || out->dims_count != 4) return TFL_ERR_BAD_SHAPE;
  int8_t padding, act;
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_PADDING_SAME, &padding));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 1, &d->stride_w));
  TFL_ENSURE(tfl_option_i32(ctx, node, 2, 1, &d->stride_h));
  TFL_ENSURE(tfl_option_i32(ctx, node, 3, 1, &d->filter_w));
  TFL_ENSURE(tfl_option_i32(ctx, node, 4, 1, &d->filter_h));
  TFL_ENSURE(tfl_option_i8(ctx, node, 5, TFL_ACT_NONE, &act));
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
  if (!pool2d_geometry_ok(in->dims[1], d->filter_h, d->stride_h, 1, oh) ||
      !pool2d_geometry_ok(in->dims[2], d->filter_w, d->stride_w, 1, ow)) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  d->pad_h = tfl_conv_padding(d->stride_h, 1, in->dims[1], d->filter_h, oh);
  d->pad_w = tfl_conv_padding(d->stride_w, 1, in->dims[2], d->filter_w, ow);
  if (out->quant_count != 1) return TFL_ERR_BAD_QUANTIZATION;
  return tfl_activation_range(act, out->scale, out->zero_point, -128, 127, &d->act_min,
                              &d->act_max);
}
