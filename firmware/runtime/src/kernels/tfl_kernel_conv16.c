/* The 16x8 convolutions (see tfl_kernel_conv.h): one window walk for CONV_2D and
 * DEPTHWISE_CONV_2D. out[b][y][x][oc] = clamp(requant(bias[oc] + sum over the valid taps and
 * the channel's inputs of x * w)); int16 activations have zero point 0, so no input offset. */
#include "tfl_kernel_conv.h"
#include "tfl_kernel_int16.h"

tfl_status tfl_conv16_eval(tfl_context *ctx, const tfl_node *node, const tfl_conv_params *p,
                           int32_t groups, int32_t depth_multiplier) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0), *w = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  /* TFLM's 16x8 convolutions accumulate in int64 unless the bias is int32 */
  const tfl_out16 o =
      tfl_out16_of(ctx, p->pool_index, w, tfl_node_input(ctx, node, 2), 1, p->act_min, p->act_max);
  const int16_t *x = (const int16_t *)in->data;
  const int8_t *wt = (const int8_t *)w->data;
  int16_t *y = (int16_t *)out->data;
  const int32_t ih = in->dims[1], iw = in->dims[2], ic = in->dims[3];
  const int32_t oh = out->dims[1], ow = out->dims[2], oc = out->dims[3];
  const int32_t kh = w->dims[1], kw = w->dims[2];
  /* conv: fic input channels per group; depthwise: one input channel per output channel */
  const int32_t fic = depth_multiplier > 0 ? 1 : w->dims[3];
  const int32_t per_group = depth_multiplier > 0 ? 1 : oc / groups;
  const int32_t pixels = out->dims[0] * oh * ow;
  for (int32_t pix = 0; pix < pixels; ++pix) { /* output pixel (batch, oy, ox) */
    const int32_t ox = pix % ow, oy = (pix / ow) % oh, image = pix / (ow * oh);
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    int32_t fy0, fy1, fx0, fx1;
    tfl_conv_valid_taps(y0, p->dilation_h, ih, kh, &fy0, &fy1);
    tfl_conv_valid_taps(x0, p->dilation_w, iw, kw, &fx0, &fx1);
    for (int32_t c = 0; c < oc; ++c) {
      const int32_t c_in = depth_multiplier > 0 ? c / depth_multiplier : (c / per_group) * fic;
      uint64_t sum = 0; /* wraps: defined for hostile models, exact for every sane one */
      for (int32_t fy = fy0; fy < fy1; ++fy) {
        for (int32_t fx = fx0; fx < fx1; ++fx) {
          const int32_t iy = y0 + fy * p->dilation_h, ix = x0 + fx * p->dilation_w;
          const int16_t *xp = x + ((image * ih + iy) * iw + ix) * ic + c_in;
          const int8_t *wp = depth_multiplier > 0 ? wt + (fy * kw + fx) * oc + c
                                                  : wt + ((c * kh + fy) * kw + fx) * fic;
          for (int32_t k = 0; k < fic; ++k) sum += (uint64_t)(int64_t)(xp[k] * wp[k]);
        }
      }
      y[pix * oc + c] = tfl_out16_value(&o, sum, c);
    }
  }
  return TFL_OK;
}
