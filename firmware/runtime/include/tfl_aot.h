/* Ahead-of-time layers (`tinyflash generate --aot`): the generated src/model_aot.c describes each
 * specialised operator with one `tfl_aot_layer` constant (tensor indices, shapes, strides,
 * padding, zero points, clamp, pool and scratch places) and instantiates one of the kernel bodies
 * below once per distinct shape. A body takes two layers: S, the constant layer whose shape it is
 * specialised for (the body is always inlined, so the compiler folds S's shape fields into the
 * code: loop counts, strides and offsets become immediates, branches on the layout disappear, a
 * 3x3 window is unrolled), and L, the layer being run, which gives the tensors, zero points,
 * clamp, pool and scratch places at run time. Layers of one shape share one instance.
 *
 * A layer's kernel runs the generic kernel's prepare first (validation, multipliers in the pool,
 * scratch from the plan), then tfl_aot_check checks that the model in memory is the one the
 * layer was generated from: same tensors, shapes, geometry, zero points, clamp, pool index and
 * scratch offset, else TFL_ERR_PLAN_MISMATCH. Eval then reads nothing from the flatbuffer. */
#ifndef TFL_AOT_H
#define TFL_AOT_H

#include "tfl_kernel.h"
/* the runtime's private MAC helpers (src/kernels), shared by the generic kernels */
#include "../src/kernels/tfl_kernel_conv.h"
#include "../src/kernels/tfl_mac.h"

/* Which body a layer instantiates (checked by tfl_aot_check). */
enum {
  TFL_AOT_FC = 0,        /* FULLY_CONNECTED, weight zero point 0 */
  TFL_AOT_POINTWISE = 1, /* CONV_2D 1x1, stride 1, no padding, one group */
  TFL_AOT_DEPTHWISE = 2, /* DEPTHWISE_CONV_2D, depth multiplier 1, no dilation, channels % 4 == 0 */
  TFL_AOT_CONV = 3       /* CONV_2D through im2col, DSP kernels: one group, one batch, no
                            dilation, filter <= TFL_MAC_PATCH_BYTES - 3 bytes, >= 4 channels */
};

typedef struct {
  int32_t kind;                /* TFL_AOT_* */
  int32_t in, w, bias, out;    /* tensor indices (bias -1: none) */
  int32_t batches, ih, iw, ic; /* FC: batches and depth (ih = iw = 1) */
  int32_t oh, ow, oc;          /* FC: units in oc */
  int32_t kh, kw;              /* window (1x1 for FC and pointwise) */
  int32_t stride_h, stride_w, pad_h, pad_w;
  int32_t in_off, out_off;       /* -input zero point, output zero point */
  int32_t act, act_min, act_max; /* fused activation code and its clamp */
  int32_t per_channel;           /* 1: one multiplier per output channel */
  int32_t pool_index;            /* multipliers at pool + pool_index, then the shifts */
  int32_t scratch;               /* arena offset of the DSP scratch, -1: none */
  int32_t rshift; /* 1: every multiplier's shift is a right shift by 1..31 bits (checked) */
} tfl_aot_layer;

/* The generic kernels' prepares (TFL_DEFINE_PREPARE in their op files), called by name. */
tfl_status tfl_prepare_conv_2d(tfl_context *ctx, tfl_node *node);
tfl_status tfl_prepare_depthwise_conv_2d(tfl_context *ctx, tfl_node *node);
tfl_status tfl_prepare_fully_connected(tfl_context *ctx, tfl_node *node);

/* After the generic kernel's prepare (called directly by the layer's prepare: no function
 * pointer, so the stack bound sees the call), the checks against the layer (see above): `self` is
 * the node's kernel and `pool_before` the pool words used, both read before that prepare. */
TFL_MUST_CHECK tfl_status tfl_aot_check(tfl_context *ctx, const tfl_node *node,
                                        const tfl_kernel *self, int32_t pool_before,
                                        const tfl_aot_layer *layer);

#if defined(__GNUC__)
#define TFL_AOT_INLINE __attribute__((always_inline)) static inline
#else
#define TFL_AOT_INLINE static inline
#endif
/* A body's instance for one shape: one out-of-line copy, optimised for speed like the MAC
 * helpers (tfl_mac.h). */
#define TFL_AOT_INSTANCE TFL_MAC_NOINLINE static

/* The layer's tensors and requantization parameters, constants folded. */
typedef struct {
  const int8_t *x, *w;
  int8_t *y;
  tfl_mac_out o;
  int rshift; /* the shape's rshift */
} tfl_aot_io;

TFL_AOT_INLINE tfl_aot_io tfl_aot_io_of(tfl_context *ctx, const tfl_aot_layer *S,
                                        const tfl_aot_layer *L) {
  tfl_aot_io io;
  const int32_t *mult = ctx->mem.pool + L->pool_index;
  io.x = (const int8_t *)ctx->mem.tensors[L->in].data;
  io.w = (const int8_t *)ctx->mem.tensors[L->w].data;
  io.y = (int8_t *)ctx->mem.tensors[L->out].data;
  io.o.bias = L->bias >= 0 ? (const int32_t *)ctx->mem.tensors[L->bias].data : NULL;
  io.o.mult = mult;
  io.o.shift = mult + (S->per_channel ? S->oc : 1);
  io.o.qmask = S->per_channel ? -1 : 0;
  io.o.out_offset = L->out_off;
  io.o.act_min = S->act_min;
  io.o.act_max = S->act_max;
  io.rshift = S->rshift;
  return io;
}

/* Output channel c of an accumulator, parameters folded. With only right shifts (rshift), the
 * requantization is tfl_mac_requantize's first case alone: no branch on the shift. */
TFL_AOT_INLINE int8_t tfl_aot_out(const tfl_aot_io *io, uint32_t acc, int32_t c) {
  const int32_t q = c & io->o.qmask, mult = io->o.mult[q];
  if (io->o.bias != NULL) acc += (uint32_t)io->o.bias[c];
  int32_t v;
  if (io->rshift) {
    const uint32_t rm1 = ~(uint32_t)io->o.shift[q]; /* r - 1, in [0, 30] */
    const uint32_t k = (1u << rm1) - ((uint32_t)((int32_t)acc ^ mult) >> 31);
    const uint64_t add = ((uint64_t)(k >> 1) << 32) | (uint64_t)((k << 31) | 0x40000000u);
    v = (int32_t)(((int64_t)(int32_t)acc * (int64_t)mult + (int64_t)add) >> 32) >> rm1;
  } else {
    v = tfl_mac_requantize((int32_t)acc, mult, io->o.shift[q]);
  }
  return (int8_t)tfl_clamp((int32_t)((uint32_t)v + (uint32_t)io->o.out_offset), io->o.act_min,
                           io->o.act_max);
}

/* Four output channels c .. c + 3 of a row of `len` activations `src` (expanded into `patch`
 * when the DSP kernels are on) against weight rows of `len` bytes. */
TFL_AOT_INLINE void tfl_aot_out4(const tfl_aot_io *io, const uint32_t *patch, const int8_t *src,
                                 const int8_t *w, int32_t len, int32_t in_off, int32_t c,
                                 int8_t *y) {
  uint32_t acc[4];
#if TFL_MAC_DSP
  tfl_dot4_expanded(patch, src, w, len, len, in_off, acc);
#else
  (void)patch;
  tfl_mac_store4(acc, 0, 0, 0, 0);
  tfl_dot4(src, w, len, len, in_off, acc);
#endif
  y[c] = tfl_aot_out(io, acc[0], c);
  y[c + 1] = tfl_aot_out(io, acc[1], c + 1);
  y[c + 2] = tfl_aot_out(io, acc[2], c + 2);
  y[c + 3] = tfl_aot_out(io, acc[3], c + 3);
}

/* Rows of `len` activations x (rows of them, `rows` apart) times `oc` weight rows: FULLY_CONNECTED
 * (one row per batch) and the portable pointwise convolution (one row per pixel). The DSP
 * kernels expand each row once into the scratch (`patch`). */
TFL_AOT_INLINE void tfl_aot_matmul(const tfl_aot_io *io, uint32_t *patch, int32_t rows, int32_t len,
                                   int32_t oc, int32_t in_off) {
  const int8_t *x = io->x;
  int8_t *y = io->y;
  for (int32_t r = 0; r < rows; ++r, x += len, y += oc) {
#if TFL_MAC_DSP
    tfl_patch_expand(patch, x, len >> 2, in_off);
#endif
    int32_t c = 0;
    for (; c + 4 <= oc; c += 4) tfl_aot_out4(io, patch, x, io->w + c * len, len, in_off, c, y);
    for (; c < oc; ++c) y[c] = tfl_aot_out(io, tfl_dot1(x, io->w + c * len, len, in_off, 0), c);
  }
}

/* The layer's DSP scratch (NULL: none). */
TFL_AOT_INLINE uint32_t *tfl_aot_scratch(tfl_context *ctx, const tfl_aot_layer *L) {
  return L->scratch >= 0 ? (uint32_t *)tfl_scratch(ctx, L->scratch) : NULL;
}

/* FULLY_CONNECTED: batches rows of ic activations, oc units. */
TFL_AOT_INLINE void tfl_aot_fc(tfl_context *ctx, const tfl_aot_layer *S, const tfl_aot_layer *L) {
  const tfl_aot_io io = tfl_aot_io_of(ctx, S, L);
  tfl_aot_matmul(&io, tfl_aot_scratch(ctx, L), S->batches, S->ic, S->oc, L->in_off);
}

/* CONV_2D 1x1, stride 1, no padding: a matrix multiply over the pixels. With the DSP kernels
 * two pixels share every weight load (tfl_dot2x2_patch) and each channel pair is requantized
 * straight from its accumulators. */
TFL_AOT_INLINE void tfl_aot_pointwise(tfl_context *ctx, const tfl_aot_layer *S,
                                      const tfl_aot_layer *L) {
  const tfl_aot_io io = tfl_aot_io_of(ctx, S, L);
  const int32_t ic = S->ic, oc = S->oc, pixels = S->batches * S->ih * S->iw;
  uint32_t *patch = tfl_aot_scratch(ctx, L);
#if TFL_MAC_DSP && TFL_MAC_DOT2X2
  const int32_t blocks = ic >> 2;
  const uint32_t off = tfl_pack_offset(L->in_off);
  const int8_t *x = io.x;
  int8_t *y = io.y;
  int32_t p = 0;
  for (; p + 2 <= pixels; p += 2, x += 2 * ic, y += 2 * oc) {
    for (int32_t k = 0; k < blocks; ++k) {
      const uint32_t v0 = tfl_ld32(x + 4 * k), v1 = tfl_ld32(x + ic + 4 * k);
      patch[4 * k] = tfl_sxtab16(off, v0);
      patch[4 * k + 1] = tfl_sxtab16_ror8(off, v0);
      patch[4 * k + 2] = tfl_sxtab16(off, v1);
      patch[4 * k + 3] = tfl_sxtab16_ror8(off, v1);
    }
    for (int32_t c = 0; c + 2 <= oc; c += 2) {
      uint32_t a[4];
      tfl_dot2x2_patch(patch, io.w + c * ic, ic, blocks, a);
      y[c] = tfl_aot_out(&io, a[0], c);
      y[c + 1] = tfl_aot_out(&io, a[1], c + 1);
      y[oc + c] = tfl_aot_out(&io, a[2], c);
      y[oc + c + 1] = tfl_aot_out(&io, a[3], c + 1);
    }
    if (oc & 1) { /* an odd channel count: the last channel alone */
      const int32_t c = oc - 1;
      y[c] = tfl_aot_out(&io, tfl_dot1(x, io.w + c * ic, ic, L->in_off, 0), c);
      y[oc + c] = tfl_aot_out(&io, tfl_dot1(x + ic, io.w + c * ic, ic, L->in_off, 0), c);
    }
  }
  if (p < pixels) { /* an odd pixel count: the last one alone */
    for (int32_t c = 0; c < oc; ++c) {
      y[c] = tfl_aot_out(&io, tfl_dot1(x, io.w + c * ic, ic, L->in_off, 0), c);
    }
  }
#else
  tfl_aot_matmul(&io, patch, pixels, ic, oc, L->in_off);
#endif
}

/* Channels of one depthwise pass (accumulators on the stack). */
#define TFL_AOT_DW_CHUNK 64

/* One output pixel of a depthwise layer: taps [fy0, fy1) x [fx0, fx1) of the window whose
 * top-left input pixel is (y0, x0); each chunk of channels is accumulated four at a time over
 * the taps, then requantized by the out-of-line output run. The caller passes constant tap
 * ranges for the interior, so the window is unrolled there. */
TFL_AOT_INLINE void tfl_aot_dw_pixel(const tfl_aot_io *io, const tfl_aot_layer *S, int32_t in_off,
                                     int32_t y0, int32_t x0, int32_t fy0, int32_t fy1, int32_t fx0,
                                     int32_t fx1, int8_t *yp) {
  const int32_t C = S->oc, iw = S->iw, kw = S->kw;
#if TFL_MAC_DSP
  const uint32_t off = tfl_pack_offset(in_off);
#endif
  uint32_t acc[TFL_AOT_DW_CHUNK];
  for (int32_t c0 = 0; c0 < C; c0 += TFL_AOT_DW_CHUNK) {
    const int32_t n = C - c0 < TFL_AOT_DW_CHUNK ? C - c0 : TFL_AOT_DW_CHUNK;
    for (int32_t c = c0; c < c0 + n; c += 4) {
      uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (int32_t fy = fy0; fy < fy1; ++fy) {
        const int8_t *xr = io->x + ((y0 + fy) * iw + x0) * C + c;
        const int8_t *wr = io->w + fy * kw * C + c;
        for (int32_t fx = fx0; fx < fx1; ++fx) TFL_MAC_DW_TAP(xr + fx * C, wr + fx * C);
      }
      tfl_mac_store4(acc + c - c0, a0, a1, a2, a3);
    }
    for (int32_t j = 0; j < n; ++j) yp[c0 + j] = tfl_aot_out(io, acc[j], c0 + j);
  }
}

/* DEPTHWISE_CONV_2D, depth multiplier 1, no dilation, channels a multiple of 4, one batch. */
TFL_AOT_INLINE void tfl_aot_depthwise(tfl_context *ctx, const tfl_aot_layer *S,
                                      const tfl_aot_layer *L) {
  const tfl_aot_io io = tfl_aot_io_of(ctx, S, L);
  const int32_t ih = S->ih, iw = S->iw, kh = S->kh, kw = S->kw, in_off = L->in_off;
  for (int32_t oy = 0; oy < S->oh; ++oy) {
    const int32_t y0 = oy * S->stride_h - S->pad_h;
    const int32_t fy0 = y0 < 0 ? -y0 : 0, fy1 = y0 + kh > ih ? ih - y0 : kh;
    for (int32_t ox = 0; ox < S->ow; ++ox) {
      const int32_t x0 = ox * S->stride_w - S->pad_w;
      int8_t *yp = io.y + (oy * S->ow + ox) * S->oc;
      if (fy0 == 0 && fy1 == kh && x0 >= 0 && x0 + kw <= iw) {
        tfl_aot_dw_pixel(&io, S, in_off, y0, x0, 0, kh, 0, kw, yp); /* interior: constant taps */
      } else {
        const int32_t fx0 = x0 < 0 ? -x0 : 0, fx1 = x0 + kw > iw ? iw - x0 : kw;
        tfl_aot_dw_pixel(&io, S, in_off, y0, x0, fy0, fy1 > fy0 ? fy1 : fy0, fx0,
                         fx1 > fx0 ? fx1 : fx0, yp);
      }
    }
  }
}

#if TFL_MAC_DSP
/* Input row iy, window columns [x0, x0 + kw), into dst (kw * ic bytes): the valid taps copied as
 * one run (one group, no dilation: they are contiguous in the input), the others set to the
 * input zero point (x + offset = 0 there, like skipping them). */
TFL_AOT_INLINE void tfl_aot_window_row(int8_t *dst, const int8_t *x, const tfl_aot_layer *S,
                                       int8_t zp, int32_t iy, int32_t x0) {
  const int32_t ic = S->ic, iw = S->iw, kw = S->kw;
  const int32_t fx0 = x0 < 0 ? -x0 : 0, fx1 = x0 + kw > iw ? iw - x0 : kw;
  if (iy < 0 || iy >= S->ih || fx1 <= fx0) {
    memset(dst, zp, (size_t)(kw * ic));
    return;
  }
  if (fx0 > 0) memset(dst, zp, (size_t)(fx0 * ic));
  memcpy(dst + fx0 * ic, x + (iy * iw + x0 + fx0) * ic, (size_t)((fx1 - fx0) * ic));
  if (fx1 < kw) memset(dst + fx1 * ic, zp, (size_t)((kw - fx1) * ic));
}

/* CONV_2D through im2col (the scratch the generic prepare took: the int8 window row, then its
 * expansion): the window is gathered a row of taps at a time, expanded once, and every group of
 * four output channels takes its dot product from the expansion. */
TFL_AOT_INLINE void tfl_aot_conv(tfl_context *ctx, const tfl_aot_layer *S, const tfl_aot_layer *L) {
  const tfl_aot_io io = tfl_aot_io_of(ctx, S, L);
  const int32_t kh = S->kh, oc = S->oc, run = S->kw * S->ic, fs = kh * run;
  const int32_t padded = (fs + 3) & ~3;
  int8_t *const rows = (int8_t *)tfl_scratch(ctx, L->scratch);
  uint32_t *const patch = (uint32_t *)(void *)(rows + padded);
  const int8_t zp = (int8_t)-L->in_off;
  for (int32_t k = fs; k < padded; ++k) rows[k] = zp; /* whole 4-blocks: zero contributions */
  int8_t *y = io.y;
  for (int32_t oy = 0; oy < S->oh; ++oy) {
    const int32_t y0 = oy * S->stride_h - S->pad_h;
    for (int32_t ox = 0; ox < S->ow; ++ox, y += oc) {
      const int32_t x0 = ox * S->stride_w - S->pad_w;
      for (int32_t fy = 0; fy < kh; ++fy)
        tfl_aot_window_row(rows + fy * run, io.x, S, zp, y0 + fy, x0);
      tfl_patch_expand(patch, rows, padded >> 2, L->in_off);
      int32_t c = 0;
      /* padded weight reads run up to 3 bytes into the next channel's filter, which exists for
       * every group of four but the last: that one takes the exact length */
      for (; c + 4 <= oc; c += 4) {
        uint32_t acc[4];
        if (c + 4 < oc) {
          tfl_dot4_patch(patch, io.w + c * fs, fs, padded >> 2, acc);
        } else {
          tfl_dot4_expanded(patch, rows, io.w + c * fs, fs, fs, L->in_off, acc);
        }
        for (int32_t j = 0; j < 4; ++j) y[c + j] = tfl_aot_out(&io, acc[j], c + j);
      }
      for (; c < oc; ++c)
        y[c] = tfl_aot_out(&io, tfl_dot1(rows, io.w + c * fs, fs, L->in_off, 0), c);
    }
  }
}
#endif

#endif
