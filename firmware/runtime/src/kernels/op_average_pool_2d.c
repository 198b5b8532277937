/* AVERAGE_POOL_2D, int8: the mean of the window's elements inside the input (padding is not
 * counted), rounded half away from zero with integer division, then clamped to the fused
 * activation range. Input and output share scale and zero point, as TFLite requires.
 * Options and shapes are checked by tfl_pool2d_prepare (tfl_kernel_pool2d.h). */
#include "tfl_kernel.h"
#include "tfl_kernel_pool2d.h"

/* Accumulator additions wrap (two's complement) instead of overflowing: identical results for
 * every sane model, defined behaviour for hostile ones (e.g. a bias of INT32_MIN). */
static inline int32_t acc_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

static tfl_status average_pool_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_pool2d_prepare(ctx, node);
}

static tfl_status average_pool_eval(tfl_context *ctx, tfl_node *node) {
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
          int32_t acc = 0, count = 0;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              acc = acc_add(acc, x[((n * ih + y0 + fy) * iw + x0 + fx) * ch + c]);
              ++count;
            }
          }
          int32_t v = 0;
          if (count > 0) {
            v = acc > 0 ? acc_add(acc, count / 2) / count : acc_add(acc, -(count / 2)) / count;
          }
          y[((n * oh + oy) * ow + ox) * ch + c] = (int8_t)tfl_clamp(v, d->act_min, d->act_max);
        }
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(average_pool_2d, 1, "AVERAGE_POOL_2D", average_pool_prepare, average_pool_eval);
