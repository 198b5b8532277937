/* Prepare of the 2-D pooling kernels (see the header). */
#include "tfl_kernel_pool2d.h"
#include "tfl_kernel_mve.h"

/* Window geometry whose index arithmetic stays far from int32 overflow (hostile models can
 * combine SAME padding with huge dilations or strides). */
static int pool2d_geometry_ok(int32_t in, int32_t k, int32_t stride, int32_t dilation,
                              int32_t out) {
  const int64_t effective = ((int64_t)k - 1) * dilation + 1;
  return effective <= (1 << 24) && stride <= (1 << 24) && in <= (1 << 30) &&
         (int64_t)out * stride <= (1 << 30);
}

static tfl_status pool2d_average16_eval(tfl_context *ctx, tfl_node *node);
static tfl_status pool2d_max16_eval(tfl_context *ctx, tfl_node *node);
/* The two ops with their 16x8 evals: tfl_pool2d_prepare points an int16 node at one. */
static const tfl_kernel pool2d_average16 = {1, "AVERAGE_POOL_2D", tfl_pool2d_prepare,
                                            TFL_EVAL16(pool2d_average16_eval), NULL};
static const tfl_kernel pool2d_max16 = {17, "MAX_POOL_2D", tfl_pool2d_prepare,
                                        TFL_EVAL16(pool2d_max16_eval), NULL};

tfl_status tfl_pool2d_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_pool2d_data *d = (tfl_pool2d_data *)node->data;
  if (in == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  /* int8, or int16 (16x8) with the int16 eval selected below */
  const int wide = TFL_IS_INT16(in);
  if ((in->type != TFL_TYPE_INT8 && !wide) || out->type != in->type) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  if (in->dims_count != 4 || out->dims_count != 4) return TFL_ERR_BAD_SHAPE;
  int8_t padding, act;
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_PADDING_SAME, &padding));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 1, &d->stride_w));
  TFL_ENSURE(tfl_option_i32(ctx, node, 2, 1, &d->stride_h));
  TFL_ENSURE(tfl_option_i32(ctx, node, 3, 1, &d->filter_w));
  TFL_ENSURE(tfl_option_i32(ctx, node, 4, 1, &d->filter_h));
  TFL_ENSURE(tfl_option_i8(ctx, node, 5, TFL_ACT_NONE, &act));
  if (padding != TFL_PADDING_SAME && padding != TFL_PADDING_VALID)
    return TFL_ERR_UNSUPPORTED_OPTION;
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
  TFL_ENSURE(tfl_activation_range(act, out->scale, out->zero_point, wide ? -32768 : -128,
                                  wide ? 32767 : 127, &d->act_min, &d->act_max));
  if (TFL_WITH_INT16 && wide)
    node->kernel = node->builtin_code == 17 ? &pool2d_max16 : &pool2d_average16;
  return TFL_OK;
}

/* The walk is inlined into each eval with `kind` a constant, so neither pays for the other. */
#if defined(__GNUC__)
#define POOL2D_INLINE static inline __attribute__((always_inline))
#else
#define POOL2D_INLINE static inline
#endif

typedef enum { POOL2D_AVERAGE, POOL2D_MAX } pool2d_kind;

/* Accumulator additions wrap (two's complement) instead of overflowing: identical results for
 * every sane model, defined behaviour for hostile ones (e.g. a bias of INT32_MIN). */
static inline int32_t acc_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

/* One window of h x w elements (h, w > 0) from element `first` of x (int8, or int16 when
 * `wide`), row/col the input's strides. */
POOL2D_INLINE int32_t pool2d_window(const void *x, int32_t first, int32_t row, int32_t col,
                                    int32_t h, int32_t w, pool2d_kind kind, int wide) {
  int32_t acc = 0, v = wide ? -32768 : -128;
  for (int32_t fy = 0; fy < h; ++fy) {
    for (int32_t fx = 0; fx < w; ++fx) {
      const int32_t i = first + fy * row + fx * col;
      const int32_t e = wide ? ((const int16_t *)x)[i] : ((const int8_t *)x)[i];
      if (kind == POOL2D_MAX)
        v = tfl_max(v, e);
      else
        acc = acc_add(acc, e);
    }
  }
  if (kind == POOL2D_MAX) return v;
  const int32_t count = h * w;
  return acc > 0 ? acc_add(acc, count / 2) / count : acc_add(acc, -(count / 2)) / count;
}

POOL2D_INLINE tfl_status pool2d_eval(tfl_context *ctx, const tfl_node *node, pool2d_kind kind,
                                     int wide) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const tfl_pool2d_data *d = (const tfl_pool2d_data *)node->data;
  const void *x = in->data;
  const int32_t batches = in->dims[0], ih = in->dims[1], iw = in->dims[2], ch = in->dims[3];
  const int32_t oh = out->dims[1], ow = out->dims[2];
  for (int32_t n = 0; n < batches; ++n) {
    for (int32_t oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * d->stride_h - d->pad_h;
      const int32_t fy0 = tfl_max(0, -y0), fy1 = tfl_min(d->filter_h, ih - y0);
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * d->stride_w - d->pad_w;
        const int32_t fx0 = tfl_max(0, -x0), fx1 = tfl_min(d->filter_w, iw - x0);
#if TFL_MAC_MVE
        if (!wide) { /* Helium: 16 channels per vector (max), 4 (average) */
          const int32_t rows = fx1 > fx0 ? tfl_max(0, fy1 - fy0) : 0;
          const int8_t *first = (const int8_t *)x;
          if (rows > 0) first += ((n * ih + y0 + fy0) * iw + x0 + fx0) * ch;
          tfl_mve_pool_window(first, rows, fx1 - fx0, iw * ch, ch, d->act_min, d->act_max,
                              kind == POOL2D_AVERAGE,
                              (int8_t *)out->data + ((n * oh + oy) * ow + ox) * ch);
          continue;
        }
#endif
        for (int32_t c = 0; c < ch; ++c) {
          /* a window wholly in the padding */
          int32_t v = kind == POOL2D_MAX ? (wide ? -32768 : -128) : 0;
          if (fy1 > fy0 && fx1 > fx0)
            v = pool2d_window(x, ((n * ih + y0 + fy0) * iw + x0 + fx0) * ch + c, iw * ch, ch,
                              fy1 - fy0, fx1 - fx0, kind, wide);
          v = tfl_clamp(v, d->act_min, d->act_max);
          const int32_t o = ((n * oh + oy) * ow + ox) * ch + c;
          if (wide)
            ((int16_t *)out->data)[o] = (int16_t)v;
          else
            ((int8_t *)out->data)[o] = (int8_t)v;
        }
      }
    }
  }
  return TFL_OK;
}

tfl_status tfl_pool2d_average_eval(tfl_context *ctx, tfl_node *node) {
  return pool2d_eval(ctx, node, POOL2D_AVERAGE, 0);
}

tfl_status tfl_pool2d_max_eval(tfl_context *ctx, tfl_node *node) {
  return pool2d_eval(ctx, node, POOL2D_MAX, 0);
}

static tfl_status pool2d_average16_eval(tfl_context *ctx, tfl_node *node) {
  return pool2d_eval(ctx, node, POOL2D_AVERAGE, 1);
}

static tfl_status pool2d_max16_eval(tfl_context *ctx, tfl_node *node) {
  return pool2d_eval(ctx, node, POOL2D_MAX, 1);
}
