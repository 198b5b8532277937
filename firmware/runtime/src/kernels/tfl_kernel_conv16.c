/* The 16x8 convolutions (see tfl_kernel_conv.h): one window walk for CONV_2D and
 * DEPTHWISE_CONV_2D. out[b][y][x][oc] = clamp(requant(bias[oc] + sum over the valid taps and
 * the channel's inputs of x * w)); int16 activations have zero point 0, so no input offset.
 * Under the DSP kernels the first channels in blocks of four go through SMLAD
 * (tfl_kernel_mac16.h: the same 64-bit sums), the rest through the portable loop. */
#include "tfl_kernel_conv.h"
#include "tfl_kernel_int16.h"
#include "tfl_kernel_mac16.h"

/* One output pixel's window: the activations, the element offset of its (0, 0) tap (negative
 * in the padding: only offsets of valid taps are added to the pointer) and the valid taps. */
typedef struct {
  const int16_t *x;
  int32_t base;
  int32_t fy0, fy1, fx0, fx1;
  int32_t step_y, step_x; /* activation elements between taps */
} conv16_window;

#if TFL_MAC_DSP
/* CONV_2D, one group: channels 0 .. 4 * (oc / 4) - 1 of the pixel, fic inputs per tap, by
 * tfl_dot4_s16 over runs of taps (a window row, or one tap under dilation). Runs are summed in
 * 32 bits until the next would pass TFL_MAC16_SPAN products, then widened; a run longer than
 * the span goes through the chunked tfl_dot4_s16_wide. */
TFL_MAC_OUTLINE static int32_t conv16_dsp(const conv16_window *win, const int8_t *wt, int32_t kh,
                                          int32_t kw, int32_t fic, int32_t oc, const tfl_out16 *o,
                                          int16_t *y) {
  const int32_t stride = kh * kw * fic; /* weights between output channels */
  const int32_t blocks_end = oc & ~3;
  /* dilation 1 (taps fic apart, as the weights are): a window row is one run of activations */
  const int32_t run_taps = win->step_x == fic ? win->fx1 - win->fx0 : 1;
  for (int32_t c = 0; c < blocks_end; c += 4) {
    uint64_t sum[4];
    uint32_t acc[4];
    tfl_mac16_clear(sum, acc); /* not `= {0}`: a memset call at -Os */
    int32_t held = 0;          /* products in acc */
    for (int32_t fy = win->fy0; fy < win->fy1; ++fy) {
      for (int32_t fx = win->fx0; fx < win->fx1; fx += run_taps) {
        const int16_t *xp = win->x + (win->base + fy * win->step_y + fx * win->step_x);
        const int8_t *wp = wt + ((c * kh + fy) * kw + fx) * fic;
        const int32_t len = run_taps * fic;
        if (len > TFL_MAC16_SPAN) {
          tfl_dot4_s16_wide(xp, wp, stride, len, sum);
          continue;
        }
        if (held + len > TFL_MAC16_SPAN) {
          for (int32_t j = 0; j < 4; ++j) {
            sum[j] += tfl_mac16_widen(acc[j]);
            acc[j] = 0;
          }
          held = 0;
        }
        tfl_dot4_s16(xp, wp, stride, len, acc);
        held += len;
      }
    }
    for (int32_t j = 0; j < 4; ++j) {
      y[c + j] = tfl_out16_value(o, sum[j] + tfl_mac16_widen(acc[j]), c + j);
    }
  }
  return blocks_end;
}

/* (a & 0xFFFF) * (b & 0xFFFF) + acc, the halves chosen by the mnemonic (signed, wrapping). */
#define CONV16_SMLA(op, a, b, acc)                              \
  do {                                                          \
    __asm__(op " %0, %1, %2, %0" : "+r"(acc) : "r"(a), "r"(b)); \
  } while (0)

/* DEPTHWISE_CONV_2D with depth multiplier 1 and at most TFL_MAC16_SPAN taps: four adjacent
 * channels per pass, one product each per tap. Activation words hold channels (0, 1) and
 * (2, 3); SXTB16 gives weights (0, 2), SXTB16 ROR 8 weights (1, 3); SMLAxy picks the halves. */
TFL_MAC_NOINLINE static int32_t dw16_dsp(const conv16_window *win, const int8_t *wt, int32_t kw,
                                         int32_t oc, const tfl_out16 *o, int16_t *y) {
  const int32_t blocks_end = oc & ~3;
  for (int32_t c = 0; c < blocks_end; c += 4) {
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t fy = win->fy0; fy < win->fy1; ++fy) {
      for (int32_t fx = win->fx0; fx < win->fx1; ++fx) {
        const int16_t *xp = win->x + (win->base + fy * win->step_y + fx * win->step_x + c);
        uint32_t x01, x23, wv;
        memcpy(&x01, xp, 4); /* LDR: unaligned word loads are allowed on Armv7E-M */
        memcpy(&x23, xp + 2, 4);
        memcpy(&wv, wt + (fy * kw + fx) * oc + c, 4);
        const uint32_t we = tfl_sxtb16(wv), wo = tfl_sxtb16_ror8(wv);
        CONV16_SMLA("smlabb", x01, we, a0);
        CONV16_SMLA("smlatb", x01, wo, a1);
        CONV16_SMLA("smlabt", x23, we, a2);
        CONV16_SMLA("smlatt", x23, wo, a3);
      }
    }
    y[c] = tfl_out16_value(o, tfl_mac16_widen(a0), c);
    y[c + 1] = tfl_out16_value(o, tfl_mac16_widen(a1), c + 1);
    y[c + 2] = tfl_out16_value(o, tfl_mac16_widen(a2), c + 2);
    y[c + 3] = tfl_out16_value(o, tfl_mac16_widen(a3), c + 3);
  }
  return blocks_end;
}
#endif

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
  conv16_window win;
  win.x = x;
  win.step_y = p->dilation_h * iw * ic;
  win.step_x = p->dilation_w * ic;
  for (int32_t pix = 0; pix < pixels; ++pix) { /* output pixel (batch, oy, ox) */
    const int32_t ox = pix % ow, oy = (pix / ow) % oh, image = pix / (ow * oh);
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    tfl_conv_valid_taps(y0, p->dilation_h, ih, kh, &win.fy0, &win.fy1);
    tfl_conv_valid_taps(x0, p->dilation_w, iw, kw, &win.fx0, &win.fx1);
    win.base = ((image * ih + y0) * iw + x0) * ic;
    int32_t c = 0;
#if TFL_MAC_DSP
    if (depth_multiplier == 0 && groups == 1) {
      c = conv16_dsp(&win, wt, kh, kw, fic, oc, &o, y + pix * oc);
    } else if (depth_multiplier == 1 && kh * kw <= TFL_MAC16_SPAN) {
      c = dw16_dsp(&win, wt, kw, oc, &o, y + pix * oc);
    }
#endif
    for (; c < oc; ++c) {
      const int32_t c_in = depth_multiplier > 0 ? c / depth_multiplier : (c / per_group) * fic;
      uint64_t sum = 0; /* wraps: defined for hostile models, exact for every sane one */
      for (int32_t fy = win.fy0; fy < win.fy1; ++fy) {
        for (int32_t fx = win.fx0; fx < win.fx1; ++fx) {
          const int16_t *xp = x + (win.base + fy * win.step_y + fx * win.step_x + c_in);
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
