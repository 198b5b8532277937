/* CONV_2D, int8 activations, int8 weights [OC, KH, KW, IC/groups] per-tensor or per-channel
 * (axis 0, zero points 0), optional int32 bias (16x8: int16 activations, int64 or int32 bias,
 * tfl_conv16_eval), stride, dilation, SAME/VALID padding, fused
 * activation. Grouped convolution when the input has a multiple of the filter's input channels.
 * Per output channel: multiplier of (double)in_scale * (double)w_scale[c] / (double)out_scale.
 * Pool: 2 words per weight scale (1 or OC multipliers, then as many shifts; per-tensor
 * weights read index 0 for every channel). */
#include "tfl_kernel.h"
#include "tfl_kernel_conv.h"
#include "tfl_kernel_mve.h"
#include "tfl_kernel_wz.h"
#include "tfl_mac.h"

/* Accumulators wrap (two's complement, uint32_t in tfl_mac.h) instead of overflowing: identical
 * results for every sane model, defined behaviour for hostile ones (e.g. a bias of INT32_MIN). */

typedef struct {
  tfl_conv_params p;
  int32_t groups;
  int32_t scratch; /* arena offset of the DSP paths' patch (tfl_scratch), -1 for none */
} conv_data;
TFL_OP_DATA_FITS(conv_data);
/* p stays first: patch-based execution (tfl_patches.c) sets p.pad_h through node->data */
typedef char conv_data_params_first[offsetof(conv_data, p) == 0 ? 1 : -1];

/* Input channels up to which the DSP pointwise path runs (its two expanded pixels take 4 x this
 * many bytes of scratch). */
#define CONV_PW_MAX_IC 256
/* Output channels per requantization pass of the pointwise path. */
#define CONV_PW_CHUNK 32

#if TFL_MAC_DSP && TFL_MAC_DOT2X2
/* 1 when eval takes the DSP pointwise path (conv_pointwise): a 1x1 convolution, stride 1, no
 * padding, one group, ic a multiple of 4 and <= CONV_PW_MAX_IC. */
static int conv_is_pointwise(const tfl_tensor *in, const tfl_tensor *w, const tfl_tensor *out,
                             const conv_data *d) {
  const int32_t ic = in->dims[3];
  return w->dims[1] == 1 && w->dims[2] == 1 && d->p.stride_w == 1 && d->p.stride_h == 1 &&
         d->p.pad_w == 0 && d->p.pad_h == 0 && d->groups == 1 && in->dims[1] == out->dims[1] &&
         in->dims[2] == out->dims[2] && (ic & 3) == 0 && ic <= CONV_PW_MAX_IC;
}
#endif

/* Arena scratch of the DSP paths, taken from the plan instead of the stack (toolchain/tinyflash/
 * plan.py's conv_scratch_bytes computes the same numbers): the pointwise path's two expanded
 * pixels (4 * ic bytes); im2col's int8 row of the receptive field rounded up to 4-blocks, then
 * its expansion (twice that); none for the portable kernels. */
static int32_t conv_scratch_bytes(const tfl_tensor *in, const tfl_tensor *w, const tfl_tensor *out,
                                  const conv_data *d) {
#if TFL_MAC_MVE /* tfl_kernel_mve.h: the im2col row and the per-channel sums */
  const int32_t mve_filter = w->dims[1] * w->dims[2] * w->dims[3];
  if (d->groups == 1 && mve_filter <= TFL_MVE_MAX_FILTER) {
    /* 1x1, stride 1: output height and width are the input's exactly when there is no
     * padding; the test eval makes (conv_mve) reads only what stays put when patch-based
     * execution narrows the tensors to a band of rows */
    const int pointwise = w->dims[1] == 1 && w->dims[2] == 1 && d->p.stride_w == 1 &&
                          d->p.stride_h == 1 && d->p.pad_w == 0 && d->p.pad_h == 0 &&
                          in->dims[2] == out->dims[2];
    return tfl_mve_conv_scratch_bytes(mve_filter, w->dims[0], pointwise);
  }
#endif
#if TFL_MAC_DSP
  const int32_t filter_size = w->dims[1] * w->dims[2] * w->dims[3];
#if TFL_MAC_DOT2X2
  if (conv_is_pointwise(in, w, out, d)) return 4 * in->dims[3];
#endif
  if (d->groups == 1 && filter_size <= TFL_MAC_PATCH_BYTES - 3 && w->dims[0] >= 4) {
    return 3 * ((filter_size + 3) & ~3);
  }
#else
  (void)in, (void)w, (void)out, (void)d;
#endif
  return 0;
}

static tfl_status conv_eval_int16(tfl_context *ctx, tfl_node *node) {
  const conv_data *d = (const conv_data *)node->data;
  return tfl_conv16_eval(ctx, node, &d->p, d->groups, 0);
}
TFL_DEFINE_KERNEL16(conv_int16, 3, "CONV_2D", conv_prepare, conv_eval_int16);
/* Compressed weights (tfl_kernel_wz.h): selected by prepare, channels decoded onto the stack. */
static tfl_status conv_eval_wz(tfl_context *ctx, tfl_node *node);
static const tfl_kernel conv_wz = {3, "CONV_2D", conv_prepare, TFL_EVAL_WZ(conv_eval_wz), NULL};

static tfl_status conv_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *w, *bias, *out;
  conv_data *d = (conv_data *)node->data;
  TFL_ENSURE(tfl_conv_tensors(ctx, node, &in, &w, &bias, &out));
  const int32_t oc = w->dims[0], kh = w->dims[1], kw = w->dims[2], fic = w->dims[3];
  const int32_t ic = in->dims[3];
  if (oc <= 0 || kh <= 0 || kw <= 0 || fic <= 0 || ic % fic != 0) return TFL_ERR_BAD_SHAPE;
  d->groups = ic / fic;
  if (d->groups <= 0 || oc % d->groups != 0) return TFL_ERR_BAD_SHAPE;
  if (out->dims[0] != in->dims[0] || out->dims[3] != oc) return TFL_ERR_BAD_SHAPE;
  if (bias != NULL && tfl_tensor_elements(bias) != oc) return TFL_ERR_BAD_SHAPE;

  int8_t padding, act;
  TFL_ENSURE(tfl_conv_options(ctx, node, NULL, &padding, &act, &d->p));
  TFL_ENSURE(tfl_conv_geometry(in, out, kh, kw, padding, &d->p));
  /* weights [OC, KH, KW, IC / groups]: per-channel along dim 0 */
  TFL_ENSURE(tfl_conv_quantization(ctx, in, w, out, oc, 0, act, &d->p));
  d->scratch = -1;
  if (w->is_constant == TFL_CONSTANT_COMPRESSED) {
    /* int8 only; one blob row per output channel, and one channel fits the stack buffer */
    if (TFL_IS_INT16(in)) return TFL_ERR_UNSUPPORTED_TYPE;
    if (!TFL_WITH_WZ || tfl_wz_rows(w) != oc || kh * kw * fic > TFL_WZ_STACK_BYTES)
      return TFL_ERR_BAD_BUFFER;
    node->kernel = &conv_wz;
  }
  if (TFL_IS_INT16(in)) {
    node->kernel = &conv_int16;
    return TFL_OK;
  }
  const int32_t scratch = conv_scratch_bytes(in, w, out, d);
  if (scratch > 0) TFL_ENSURE(tfl_scratch_request(ctx, node, scratch, &d->scratch));
  return TFL_OK;
}

#if TFL_MAC_DSP
/* Short runs (a few input channels) are copied inline: a libc call costs more than the copy. */
static void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
  if (n > 8) {
    memcpy(dst, src, (size_t)n);
    return;
  }
  while (n-- > 0) *dst++ = *src++;
}
static void fill_bytes(int8_t *dst, int8_t value, int32_t n) {
  if (n > 8) {
    memset(dst, value, (size_t)n);
    return;
  }
  while (n-- > 0) *dst++ = value;
}
#endif

#if TFL_MAC_DSP && TFL_MAC_DOT2X2

/* The pointwise path (conv_is_pointwise): a matrix multiply over all pixels. Two pixels per
 * pass share every weight load
 * (tfl_dot2x2_patch); the accumulators of a chunk of channels are requantized together. */
TFL_MAC_NOINLINE static void conv_pointwise(const int8_t *x, const int8_t *wt, int32_t pixels,
                                            int32_t ic, int32_t oc, int32_t in_off,
                                            const tfl_mac_out *o, int8_t *y, uint32_t *patch) {
  /* patch (scratch): 2 pixels x (ic / 4) blocks x 2 words */
  uint32_t acc0[CONV_PW_CHUNK], acc1[CONV_PW_CHUNK];
  const int32_t blocks = ic >> 2;
  const uint32_t off = tfl_pack_offset(in_off);
  int32_t p = 0;
  for (; p + 2 <= pixels; p += 2, x += 2 * ic, y += 2 * oc) {
    const int8_t *x1 = x + ic;
    for (int32_t k = 0; k < blocks; ++k) {
      const uint32_t v0 = tfl_ld32(x + 4 * k), v1 = tfl_ld32(x1 + 4 * k);
      patch[4 * k] = tfl_sxtab16(off, v0);
      patch[4 * k + 1] = tfl_sxtab16_ror8(off, v0);
      patch[4 * k + 2] = tfl_sxtab16(off, v1);
      patch[4 * k + 3] = tfl_sxtab16_ror8(off, v1);
    }
    for (int32_t c0 = 0; c0 < oc; c0 += CONV_PW_CHUNK) {
      const int32_t n = tfl_min(CONV_PW_CHUNK, oc - c0);
      int32_t j = 0;
      for (; j + 2 <= n; j += 2) {
        uint32_t a[4];
        tfl_dot2x2_patch(patch, wt + (c0 + j) * ic, ic, blocks, a);
        acc0[j] = a[0];
        acc0[j + 1] = a[1];
        acc1[j] = a[2];
        acc1[j + 1] = a[3];
      }
      for (; j < n; ++j) {
        acc0[j] = tfl_dot1(x, wt + (c0 + j) * ic, ic, in_off, 0);
        acc1[j] = tfl_dot1(x1, wt + (c0 + j) * ic, ic, in_off, 0);
      }
      tfl_mac_output_run(acc0, c0, n, o, y + c0);
      tfl_mac_output_run(acc1, c0, n, o, y + oc + c0);
    }
  }
  if (p < pixels) { /* odd pixel count: the last one alone */
    for (int32_t c0 = 0; c0 < oc; c0 += CONV_PW_CHUNK) {
      const int32_t n = tfl_min(CONV_PW_CHUNK, oc - c0);
      for (int32_t j = 0; j < n; ++j) acc0[j] = tfl_dot1(x, wt + (c0 + j) * ic, ic, in_off, 0);
      tfl_mac_output_run(acc0, c0, n, o, y + c0);
    }
  }
}
#endif

/* Every other shape (and the pointwise one without DSP): im2col patch or direct taps. Out of
 * line so its patch buffers and conv_pointwise's never share one stack frame. Computes output
 * channels [c0, c0 + cn) from their weights at wt (the whole tensor: c0 = 0, cn = OC). */
TFL_MAC_OUTLINE static void conv_general(tfl_context *ctx, tfl_node *node, const int8_t *wt,
                                         int32_t c0, int32_t cn) {
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const tfl_tensor *in = t.in, *w = t.w, *out = t.out;
  const int8_t *x = t.x;
  const int32_t *b = t.b != NULL ? t.b + c0 : NULL;
  int8_t *y = t.y + c0;
  const conv_data *cd = (const conv_data *)node->data;
  const tfl_conv_params *d = &cd->p;
  /* Locals: int8 output stores may alias node->data, which would force reloads. */
  const int32_t out_off = d->output_offset, act_lo = d->act_min, act_hi = d->act_max;
  const int32_t batches = in->dims[0], ih = in->dims[1], iw = in->dims[2], ic = in->dims[3];
  const int32_t oc = w->dims[0], kh = w->dims[1], kw = w->dims[2], fic = w->dims[3];
  const int32_t oh = out->dims[1], ow = out->dims[2];
  const int32_t per_group = oc / cd->groups;
  const int32_t qmask = w->quant_count > 1 ? -1 : 0; /* per-tensor: every channel reads index 0 */
  const int32_t *mult = ctx->mem.pool + d->pool_index + (c0 & qmask);
  const int32_t *shift = mult + w->quant_count;
  const int32_t filter_size = kh * kw * fic; /* weights of one output channel */
  /* With one group and no horizontal dilation, the taps of one filter row read one contiguous
   * run of the input row (fx_count * ic bytes) against one contiguous run of weights. */
  const int contiguous_rows = cd->groups == 1 && d->dilation_w == 1;
  const int32_t in_off = d->input_offset;
  /* The window geometry in locals too: the im2col scratch is int8 memory that may alias *d. */
  const int32_t stride_w = d->stride_w, stride_h = d->stride_h;
  const int32_t dil_w = d->dilation_w, dil_h = d->dilation_h;
  const int32_t pad_w = d->pad_w, pad_h = d->pad_h;
#if TFL_MAC_DSP
  /* im2col scratch (conv_scratch_bytes): the int8 row, then its expansion */
  int8_t *const im2col_rows = cd->scratch >= 0 ? (int8_t *)tfl_scratch(ctx, cd->scratch) : NULL;
  uint32_t *const im2col_patch =
      cd->scratch >= 0 ? (uint32_t *)(void *)(im2col_rows + ((filter_size + 3) & ~3)) : NULL;
#endif
  for (int32_t n = 0; n < batches; ++n) {
    const int8_t *xb = x + n * ih * iw * ic;
    for (int32_t oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * stride_h - pad_h;
      int32_t fy0, fy1;
      tfl_conv_valid_taps(y0, dil_h, ih, kh, &fy0, &fy1);
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * stride_w - pad_w;
        int32_t fx0, fx1;
        tfl_conv_valid_taps(x0, dil_w, iw, kw, &fx0, &fx1);
        const int32_t fy_end = fx1 > fx0 ? fy1 : fy0; /* no valid column: no taps at all */
        int8_t *yp = y + ((n * oh + oy) * ow + ox) * oc;
        int32_t c = 0;
#if TFL_MAC_DSP
        if (im2col_rows != NULL) { /* one group, filter_size <= TFL_MAC_PATCH_BYTES - 3, oc >= 4 */
          /* im2col: the receptive field as one int8 row (taps outside the input hold the input
           * zero point, so x + offset is 0 there, exactly like skipping them), expanded once
           * and reused by every group of four output channels. */
          int8_t *const rows = im2col_rows;
          uint32_t *const patch = im2col_patch;
          const int8_t *src = rows;
          if (kh == 1 && kw == 1 && fy_end > fy0) {
            src = xb + (y0 * iw + x0) * ic; /* 1x1 inside the input: the pixel itself */
          } else {
            int8_t *dst = rows;
            for (int32_t fy = 0; fy < kh; ++fy) {
              const int32_t iy = y0 + fy * dil_h;
              for (int32_t fx = 0; fx < kw; ++fx, dst += ic) {
                const int32_t ix = x0 + fx * dil_w;
                if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) {
                  fill_bytes(dst, (int8_t)-in_off, ic);
                } else {
                  copy_bytes(dst, xb + (iy * iw + ix) * ic, ic);
                }
              }
            }
          }
          /* A copied patch is padded with zero-contribution bytes to whole 4-blocks; the
           * matching weight reads then run up to 3 bytes into the next channel's filter, which
           * exists for every group of four but the last (that one takes the exact length). */
          const int32_t padded = src == rows ? (filter_size + 3) & ~3 : filter_size & ~3;
          for (int32_t k = filter_size; src == rows && k < padded; ++k) rows[k] = (int8_t)-in_off;
          tfl_patch_expand(patch, src, padded >> 2, in_off);
          for (; c + 4 <= cn; c += 4) {
            uint32_t acc[4]; /* set by tfl_dot4_patch */
            if (c + 4 < cn) {
              tfl_dot4_patch(patch, wt + c * filter_size, filter_size, padded >> 2, acc);
              if (padded < filter_size) { /* 1x1 straight from the input: exact tail */
                tfl_dot4(src + padded, wt + c * filter_size + padded, filter_size,
                         filter_size - padded, in_off, acc);
              }
            } else {
              tfl_dot4_expanded(patch, src, wt + c * filter_size, filter_size, filter_size, in_off,
                                acc);
            }
            for (int32_t j = 0; j < 4; ++j) {
              const int32_t q = (c + j) & qmask;
              yp[c + j] =
                  tfl_mac_output(acc[j], b, c + j, mult[q], shift[q], out_off, act_lo, act_hi);
            }
          }
          for (; c < cn; ++c) {
            const uint32_t acc = tfl_dot1(src, wt + c * filter_size, filter_size, in_off, 0);
            yp[c] = tfl_mac_output(acc, b, c, mult[c & qmask], shift[c & qmask], out_off, act_lo,
                                   act_hi);
          }
        }
#endif
        if (contiguous_rows) {
          const int32_t run = (fx1 - fx0) * ic;
          /* Four output channels per pass reuse every loaded activation. */
          for (; c + 4 <= cn; c += 4) {
            uint32_t acc[4] = {0, 0, 0, 0};
            for (int32_t fy = fy0; fy < fy_end; ++fy) {
              const int32_t iy = y0 + fy * dil_h;
              tfl_dot4(xb + (iy * iw + x0 + fx0) * ic, wt + c * filter_size + (fy * kw + fx0) * fic,
                       filter_size, run, in_off, acc);
            }
            for (int32_t j = 0; j < 4; ++j) {
              const int32_t q = (c + j) & qmask;
              yp[c + j] =
                  tfl_mac_output(acc[j], b, c + j, mult[q], shift[q], out_off, act_lo, act_hi);
            }
          }
          for (; c < cn; ++c) {
            uint32_t acc = 0;
            for (int32_t fy = fy0; fy < fy_end; ++fy) {
              const int32_t iy = y0 + fy * dil_h;
              acc = tfl_dot1(xb + (iy * iw + x0 + fx0) * ic,
                             wt + c * filter_size + (fy * kw + fx0) * fic, run, in_off, acc);
            }
            yp[c] = tfl_mac_output(acc, b, c, mult[c & qmask], shift[c & qmask], out_off, act_lo,
                                   act_hi);
          }
        }
        for (; c < cn; ++c) { /* grouped or horizontally dilated: one tap at a time */
          const int32_t c_in0 = ((c0 + c) / per_group) * fic;
          uint32_t acc = 0;
          for (int32_t fy = fy0; fy < fy_end; ++fy) {
            const int32_t iy = y0 + fy * dil_h;
            for (int32_t fx = fx0; fx < fx1; ++fx) {
              const int32_t ix = x0 + fx * dil_w;
              acc = tfl_dot1(xb + (iy * iw + ix) * ic + c_in0,
                             wt + c * filter_size + (fy * kw + fx) * fic, fic, in_off, acc);
            }
          }
          yp[c] =
              tfl_mac_output(acc, b, c, mult[c & qmask], shift[c & qmask], out_off, act_lo, act_hi);
        }
      }
    }
  }
}

#if TFL_MAC_MVE
/* The Helium path (prepare took its scratch): one group, filter within TFL_MVE_MAX_FILTER. */
static void conv_mve(tfl_context *ctx, const tfl_node *node, const int8_t *wt) {
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const conv_data *cd = (const conv_data *)node->data;
  const tfl_conv_params *d = &cd->p;
  const int32_t *mult = ctx->mem.pool + d->pool_index;
  const int32_t fs = t.w->dims[1] * t.w->dims[2] * t.w->dims[3];
  int8_t *scratch = (int8_t *)tfl_scratch(ctx, cd->scratch);
  tfl_mve_conv_args a;
  a.x = t.x;
  a.w = wt;
  a.y = t.y;
  a.batches = t.in->dims[0];
  a.ih = t.in->dims[1];
  a.iw = t.in->dims[2];
  a.ic = t.in->dims[3];
  a.oc = t.w->dims[0];
  a.kh = t.w->dims[1];
  a.kw = t.w->dims[2];
  a.oh = t.out->dims[1];
  a.ow = t.out->dims[2];
  a.stride_w = d->stride_w;
  a.stride_h = d->stride_h;
  a.dil_w = d->dilation_w;
  a.dil_h = d->dilation_h;
  a.pad_w = d->pad_w;
  a.pad_h = d->pad_h;
  a.in_off = d->input_offset;
  a.pointwise = a.kh == 1 && a.kw == 1 && a.stride_w == 1 && a.stride_h == 1 && a.pad_w == 0 &&
                a.pad_h == 0 && a.iw == a.ow; /* conv_scratch_bytes's test */
  a.row = scratch;
  a.sums = (uint32_t *)(void *)(scratch + (a.pointwise ? 0 : (fs + 3) & ~3));
  a.out.bias = t.b;
  a.out.mult = mult;
  a.out.shift = mult + t.w->quant_count;
  a.out.qmask = t.w->quant_count > 1 ? -1 : 0;
  a.out.out_offset = d->output_offset;
  a.out.act_min = d->act_min;
  a.out.act_max = d->act_max;
  tfl_mve_conv(&a);
}
#endif

/* The whole convolution with the weights at wt. */
static tfl_status conv_eval_weights(tfl_context *ctx, tfl_node *node, const int8_t *wt) {
#if TFL_MAC_MVE
  if (((const conv_data *)node->data)->scratch >= 0) {
    conv_mve(ctx, node, wt);
    return TFL_OK;
  }
#endif
#if TFL_MAC_DSP && TFL_MAC_DOT2X2
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const conv_data *cd = (const conv_data *)node->data;
  const tfl_conv_params *d = &cd->p;
  if (conv_is_pointwise(t.in, t.w, t.out, cd)) {
    const int32_t *mult = ctx->mem.pool + d->pool_index;
    const tfl_mac_out o = {t.b,
                           mult,
                           mult + t.w->quant_count,
                           t.w->quant_count > 1 ? -1 : 0,
                           d->output_offset,
                           d->act_min,
                           d->act_max};
    conv_pointwise(t.x, wt, t.in->dims[0] * t.in->dims[1] * t.in->dims[2], t.in->dims[3],
                   t.w->dims[0], d->input_offset, &o, t.y,
                   (uint32_t *)tfl_scratch(ctx, cd->scratch));
    return TFL_OK;
  }
#endif
  conv_general(ctx, node, wt, 0, tfl_node_input(ctx, node, 1)->dims[0]);
  return TFL_OK;
}

static tfl_status conv_eval(tfl_context *ctx, tfl_node *node) {
  return conv_eval_weights(ctx, node, (const int8_t *)tfl_node_input(ctx, node, 1)->data);
}

/* Compressed weights: all channels decoded onto the stack when they fit (then every dense path,
 * the pointwise one included), else tfl_wz_chunk channels at a time through conv_general. */
static tfl_status conv_eval_wz(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  const int32_t oc = w->dims[0], chunk = tfl_wz_chunk(w->dims[1] * w->dims[2] * w->dims[3]);
  int8_t buf[TFL_WZ_STACK_BYTES];
  if (chunk >= oc) {
    tfl_wz_decode_rows(w, 0, oc, buf);
    return conv_eval_weights(ctx, node, buf);
  }
  for (int32_t c0 = 0; c0 < oc; c0 += chunk) {
    const int32_t n = tfl_min(chunk, oc - c0);
    tfl_wz_decode_rows(w, c0, n, buf);
    conv_general(ctx, node, buf, c0, n);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(conv_2d, 3, "CONV_2D", conv_prepare, conv_eval);
TFL_DEFINE_PREPARE(conv_2d, conv_prepare);
