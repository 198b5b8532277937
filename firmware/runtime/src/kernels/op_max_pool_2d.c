/* MAX_POOL_2D, int8: the largest element of the window inside the input, clamped to the
 * fused activation range.
 * Options and shapes are checked by tfl_pool2d_prepare (tfl_kernel_pool2d.h). */
#include "tfl_kernel.h"
#include "tfl_kernel_pool2d.h"

static tfl_status max_pool_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_pool2d_prepare(ctx, node);
}

static tfl_status max_pool_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const tfl_pool2d_data *d = (const tfl_pool2d_data *)node->data;
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
