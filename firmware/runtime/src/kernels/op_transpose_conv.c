/* TRANSPOSE_CONV (int8, per-channel or per-tensor int8 weights, optional int32 bias).
 *
 * Inputs: 0 output_shape (int32[4]), 1 weights [OC, KH, KW, IC] (symmetric, quantized along
 * dim 0), 2 input [N, H, W, IC], 3 bias [OC] or absent. TFLM scatters every input pixel
 * into an int32 scratch image of the whole output and requantizes at the end. Here each
 * output value is a gather over the input pixels that reach it (oy = iy*stride - pad + ky),
 * so no scratch buffer is needed and the integer sum is the same; it is accumulated with
 * wrap-around (unsigned) arithmetic, which equals TFLM's int32 sum whenever that is defined.
 *
 * Pool contract with the Python memory planner: prepare takes exactly 2 * S words from
 * tfl_pool_alloc, S multipliers followed by S shifts, where S is the number of weight scales
 * (1 per-tensor, OC per-channel); eval reads channel c's pair at index c & channel_mask.
 *
 * 16x8: int16 input and output (zero point 0), int8 weights, an int64 or int16 bias (TFLM
 * widens the int16 one); the sum is an int64 requantized as TFLM does (tfl_requantize_int64). */
#include "tfl_kernel.h"
#include "tfl_kernel_conv.h"
#include "tfl_kernel_index.h"
#include "tfl_kernel_int16.h"
#include "tfl_kernel_wz.h"

typedef struct {
  int32_t stride_h, stride_w;
  int32_t pad_h, pad_w;
  int32_t input_zp, output_zp;
  int32_t act_min, act_max;
  int32_t pool_offset; /* index of the multipliers in ctx->mem.pool */
  int32_t scales;      /* weight scales: 1 (per-tensor) or OC (per-channel) */
} tfl_transpose_conv_data;
TFL_OP_DATA_FITS(tfl_transpose_conv_data);

/* TFLite's padding for a transpose conv: the padding of the forward conv that maps an
 * image of the transpose conv's output size `size` back to its input. */
static int32_t tconv_padding(int32_t padding, int32_t size, int32_t filter, int32_t stride) {
  const int64_t fwd = padding == TFL_PADDING_SAME ? ((int64_t)size + stride - 1) / stride
                                                  : ((int64_t)size - filter + stride) / stride;
  const int64_t total = (fwd - 1) * stride + filter - size;
  return total > 0 ? (int32_t)(total / 2) : 0;
}

static tfl_status tconv_eval_int16(tfl_context *ctx, tfl_node *node);
TFL_DEFINE_KERNEL16(tconv_int16, 67, "TRANSPOSE_CONV", tconv_prepare, tconv_eval_int16);
/* Compressed weights (tfl_kernel_wz.h): selected by prepare, decoded whole onto the stack. */
static tfl_status tconv_eval_wz(tfl_context *ctx, tfl_node *node);
static const tfl_kernel tconv_wz = {67, "TRANSPOSE_CONV", tconv_prepare, TFL_EVAL_WZ(tconv_eval_wz),
                                    NULL};

static tfl_status tconv_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_transpose_conv_data *d = (tfl_transpose_conv_data *)node->data;
  const tfl_tensor *shape = tfl_node_input(ctx, node, 0);
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  const tfl_tensor *in = tfl_node_input(ctx, node, 2);
  const tfl_tensor *bias = node->input_count > 3 ? tfl_node_input(ctx, node, 3) : NULL;
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int8_t padding = 0, act = 0;
  int32_t stride_w = 0, stride_h = 0, oc, c, k;
  if (shape == NULL || w == NULL || in == NULL || out == NULL || node->output_count != 1 ||
      node->input_count < 3 || node->input_count > 4)
    return TFL_ERR_MODEL_INVALID;
  const int wide = TFL_IS_INT16(in); /* 16x8 */
  if ((in->type != TFL_TYPE_INT8 && !wide) || w->type != TFL_TYPE_INT8 || out->type != in->type)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (shape->type != TFL_TYPE_INT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->dims_count != 4 || w->dims_count != 4 || out->dims_count != 4) return TFL_ERR_BAD_SHAPE;
  if (shape->dims_count != 1 || shape->dims[0] != 4 || shape->bytes != 4 * (int32_t)sizeof(int32_t))
    return TFL_ERR_BAD_SHAPE;
  if (shape->is_constant) {
    if (shape->data == NULL) return TFL_ERR_BAD_BUFFER;
    for (k = 0; k < 4; ++k)
      if (tfl_index_i32(shape->data, (size_t)k) != out->dims[k]) return TFL_ERR_BAD_SHAPE;
  }
  oc = w->dims[0];
  if (oc < 1 || out->dims[3] != oc || w->dims[3] != in->dims[3] || in->dims[0] != out->dims[0])
    return TFL_ERR_BAD_SHAPE;
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_PADDING_SAME, &padding));
  TFL_ENSURE(tfl_option_i32(ctx, node, 1, 0, &stride_w));
  TFL_ENSURE(tfl_option_i32(ctx, node, 2, 0, &stride_h));
  TFL_ENSURE(tfl_option_i8(ctx, node, 3, TFL_ACT_NONE, &act));
  if (padding != TFL_PADDING_SAME && padding != TFL_PADDING_VALID)
    return TFL_ERR_UNSUPPORTED_OPTION;
  if (stride_w < 1 || stride_h < 1) return TFL_ERR_BAD_ARGUMENT;
  /* quantization: per-tensor activations, symmetric weights with 1 or OC scales on dim 0 */
  if (in->quant_count < 1 || out->quant_count < 1 || w->quant_count < 1)
    return TFL_ERR_BAD_QUANTIZATION;
  if (w->quant_count != 1 && (w->quant_count != oc || w->quant_dim != 0))
    return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f) || !(out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  for (c = 0; c < w->quant_count; ++c) {
    if (tfl_tensor_channel_zero_point(w, c) != 0) return TFL_ERR_BAD_QUANTIZATION;
    if (!(tfl_tensor_channel_scale(w, c) > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  }
  if (bias != NULL) {
    const uint8_t want = wide ? TFL_TYPE_INT64 : TFL_TYPE_INT32;
    if (bias->type != want && !(wide && bias->type == TFL_TYPE_INT16))
      return TFL_ERR_UNSUPPORTED_TYPE;
    if (tfl_tensor_elements(bias) != oc) return TFL_ERR_BAD_SHAPE;
  }
  if (wide && (in->zero_point != 0 || out->zero_point != 0)) return TFL_ERR_BAD_QUANTIZATION;
  TFL_ENSURE(tfl_activation_range(act, out->scale, out->zero_point, wide ? -32768 : -128,
                                  wide ? 32767 : 127, &d->act_min, &d->act_max));
  d->stride_h = stride_h;
  d->stride_w = stride_w;
  d->pad_h = tconv_padding(padding, out->dims[1], w->dims[1], stride_h);
  d->pad_w = tconv_padding(padding, out->dims[2], w->dims[2], stride_w);
  d->input_zp = in->zero_point;
  d->output_zp = out->zero_point;
  d->scales = w->quant_count;
  TFL_ENSURE(tfl_conv_multipliers(ctx, in, w, out, &d->pool_offset));
  if (w->is_constant == TFL_CONSTANT_COMPRESSED) {
    /* int8 only, and the whole filter fits the stack buffer */
    if (wide) return TFL_ERR_UNSUPPORTED_TYPE;
    if (!TFL_WITH_WZ || tfl_wz_rows(w) != w->dims[0] || w->bytes > TFL_WZ_STACK_BYTES) {
      return TFL_ERR_BAD_BUFFER;
    }
    node->kernel = &tconv_wz;
  }
  if (wide) {
    if (!tfl_int16_multipliers_ok(ctx->mem.pool + d->pool_offset, d->scales))
      return TFL_ERR_BAD_QUANTIZATION;
    node->kernel = &tconv_int16;
  }
  return TFL_OK;
}

/* Inlined into each eval with `wide` a constant (int8: int32 sum; 16x8: int64 sum). */
#if defined(__GNUC__)
#define TCONV_INLINE static inline __attribute__((always_inline))
#else
#define TCONV_INLINE static inline
#endif

/* bias[c] of any integer bias type, read in place (no alignment assumed) */
static int64_t tconv_bias(const tfl_tensor *bias, int32_t c) {
  if (bias->type == TFL_TYPE_INT16) {
    int16_t v;
    memcpy(&v, (const uint8_t *)bias->data + (size_t)c * sizeof(v), sizeof(v));
    return v;
  }
  if (bias->type == TFL_TYPE_INT64) return tfl_load_i64(bias->data, c);
  int32_t v;
  memcpy(&v, (const uint8_t *)bias->data + (size_t)c * sizeof(v), sizeof(v));
  return v;
}

TCONV_INLINE tfl_status tconv_walk(tfl_context *ctx, tfl_node *node, int wide, const int8_t *wt) {
  const tfl_transpose_conv_data *d = (const tfl_transpose_conv_data *)node->data;
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  const tfl_tensor *in = tfl_node_input(ctx, node, 2);
  const tfl_tensor *bias = node->input_count > 3 ? tfl_node_input(ctx, node, 3) : NULL;
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t *mult = ctx->mem.pool + d->pool_offset;
  const int32_t *shift = mult + d->scales;
  const int32_t channel_mask = d->scales > 1 ? -1 : 0; /* per-tensor: every channel reads pair 0 */
  int32_t o = 0;                                       /* output element */
  const int32_t batches = out->dims[0], oh = out->dims[1], ow = out->dims[2], oc = out->dims[3];
  const int32_t ih = in->dims[1], iw = in->dims[2], ic = in->dims[3];
  const int32_t kh = w->dims[1], kw = w->dims[2];
  int32_t b, y, x, c;
  for (b = 0; b < batches; ++b) {
    const size_t img = (size_t)b * (size_t)ih * (size_t)iw * (size_t)ic;
    for (y = 0; y < oh; ++y) {
      /* taps ky with (y + pad_h - ky) a multiple of the stride: ky = ky0, ky0 + stride, ... */
      const int32_t ty = y + d->pad_h;
      const int32_t ky0 = ty % d->stride_h;
      for (x = 0; x < ow; ++x) {
        const int32_t tx = x + d->pad_w;
        const int32_t kx0 = tx % d->stride_w;
        for (c = 0; c < oc; ++c) {
          const int8_t *wc = wt + (size_t)c * (size_t)kh * (size_t)kw * (size_t)ic;
          uint64_t acc = 0;   /* 16x8: int64 sum, wrapping */
          uint32_t acc32 = 0; /* int8: int32 sum, wrapping */
          int32_t ky, kx, i, v;
          for (ky = ky0; ky < kh && ky <= ty; ky += d->stride_h) {
            const int32_t iy = (ty - ky) / d->stride_h;
            if (iy >= ih) continue;
            for (kx = kx0; kx < kw && kx <= tx; kx += d->stride_w) {
              const int32_t ix = (tx - kx) / d->stride_w;
              const int8_t *wp;
              size_t ip;
              if (ix >= iw) continue;
              ip = img + ((size_t)iy * (size_t)iw + (size_t)ix) * (size_t)ic;
              wp = wc + ((size_t)ky * (size_t)kw + (size_t)kx) * (size_t)ic;
              if (wide) {
                const int16_t *xs = (const int16_t *)in->data + ip;
                for (i = 0; i < ic; ++i) acc += (uint64_t)(int64_t)(xs[i] * (int32_t)wp[i]);
              } else {
                const int8_t *xs = (const int8_t *)in->data + ip;
                for (i = 0; i < ic; ++i)
                  acc32 += (uint32_t)(((int32_t)xs[i] - d->input_zp) * (int32_t)wp[i]);
              }
            }
          }
          if (bias != NULL && wide) acc += (uint64_t)tconv_bias(bias, c);
          if (bias != NULL && !wide) acc32 += (uint32_t)tconv_bias(bias, c);
          if (wide) {
            v = tfl_requantize_int64((int64_t)acc, mult[c & channel_mask], shift[c & channel_mask]);
            ((int16_t *)out->data)[o++] = (int16_t)tfl_clamp(v, d->act_min, d->act_max);
          } else {
            v = tfl_multiply_by_quantized_multiplier((int32_t)acc32, mult[c & channel_mask],
                                                     shift[c & channel_mask]) +
                d->output_zp;
            ((int8_t *)out->data)[o++] = (int8_t)tfl_clamp(v, d->act_min, d->act_max);
          }
        }
      }
    }
  }
  return TFL_OK;
}

static tfl_status tconv_eval(tfl_context *ctx, tfl_node *node) {
  return tconv_walk(ctx, node, 0, (const int8_t *)tfl_node_input(ctx, node, 1)->data);
}

static tfl_status tconv_eval_int16(tfl_context *ctx, tfl_node *node) {
  return tconv_walk(ctx, node, 1, (const int8_t *)tfl_node_input(ctx, node, 1)->data);
}

static tfl_status tconv_eval_wz(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  int8_t buf[TFL_WZ_STACK_BYTES];
  tfl_wz_decode_rows(w, 0, w->dims[0], buf);
  return tconv_walk(ctx, node, 0, buf);
}

TFL_DEFINE_KERNEL(transpose_conv, 67, "TRANSPOSE_CONV", tconv_prepare, tconv_eval);
