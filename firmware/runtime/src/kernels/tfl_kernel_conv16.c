/* The 16x8 convolutions (see tfl_kernel_conv.h): one window walk for CONV_2D and
 * DEPTHWISE_CONV_2D. out[b][y][x][oc] = clamp(requant(bias[oc] + sum over the valid taps and
 * the channel's inputs of x * w)); int16 activations have zero point 0, so no input offset. */
#include "tfl_kernel_conv.h"
#include "tfl_kernel_int16.h"

tfl_status tfl_conv16_eval(tfl_context *ctx, const tfl_node *node, const tfl_conv_params *p,
                           int32_t groups, int32_t depth_multiplier) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  const tfl_tensor *bias = tfl_node_input(ctx, node, 2);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int16_t *x = (const int16_t *)in->data;
  const int8_t *wt = (const int8_t *)w->data;
  int16_t *y = (int16_t *)out->data;
  const int32_t *mult = ctx->mem.pool + p->pool_index;
  const int32_t *shift = mult + w->quant_count;
  const int32_t qmask = w->quant_count > 1 ? -1 : 0;
  const int32_t batches = in->dims[0], ih = in->dims[1], iw = in->dims[2], ic = in->dims[3];
  const int32_t oh = out->dims[1], ow = out->dims[2], oc = out->dims[3];
  const int32_t kh = w->dims[1], kw = w->dims[2];
  /* conv: fic input channels per group; depthwise: one input channel per output channel */
  const int32_t fic = depth_multiplier > 0 ? 1 : w->dims[3];
  const int32_t per_group = depth_multiplier > 0 ? 1 : oc / groups;
  const void *b64 = bias != NULL && bias->type == TFL_TYPE_INT64 ? bias->data : NULL;
  const int32_t *b32 = bias != NULL && bias->type == TFL_TYPE_INT32 ? (const int32_t *)bias->data
                                                                     : NULL;
  for (int32_t b = 0; b < batches; ++b) {
    for (int32_t oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      int32_t fy0, fy1;
      tfl_conv_valid_taps(y0, p->dilation_h, ih, kh, &fy0, &fy1);
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        int32_t fx0, fx1;
        tfl_conv_valid_taps(x0, p->dilation_w, iw, kw, &fx0, &fx1);
        for (int32_t c = 0; c < oc; ++c) {
          const int32_t c_in = depth_multiplier > 0 ? c / depth_multiplier : (c / per_group) * fic;
          uint64_t acc = 0; /* wraps: defined for hostile models, exact for every sane one */
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            const int32_t iy = y0 + fy * p->dilation_h;
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              const int32_t ix = x0 + fx * p->dilation_w;
              const int16_t *xp = x + ((b * ih + iy) * iw + ix) * ic + c_in;
              const int8_t *wp = depth_multiplier > 0 ? wt + (fy * kw + fx) * oc + c
                                                      : wt + ((c * kh + fy) * kw + fx) * fic;
              for (int32_t k = 0; k < fic; ++k) acc += (uint64_t)(int64_t)(xp[k] * wp[k]);
            }
          }
          const int32_t q = c & qmask;
          int32_t v;
          if (b32 != NULL) {
            v = tfl_multiply_by_quantized_multiplier((int32_t)(uint32_t)(acc + (uint32_t)b32[c]),
                                                     mult[q], shift[q]);
          } else {
            if (b64 != NULL) acc += (uint64_t)tfl_load_i64(b64, c);
            v = tfl_requantize_int64((int64_t)acc, mult[q], shift[q]);
          }
          y[((b * oh + oy) * ow + ox) * oc + c] = (int16_t)tfl_clamp(v, p->act_min, p->act_max);
        }
      }
    }
  }
  return TFL_OK;
}
