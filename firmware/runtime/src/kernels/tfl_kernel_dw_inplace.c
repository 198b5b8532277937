/* DEPTHWISE_CONV_2D in place, channel by channel (see the header). */
#include "tfl_kernel_dw_inplace.h"

#include "tfl_mac.h"

tfl_status tfl_dwconv_inplace_prepare(tfl_context *ctx, const tfl_node *node, const tfl_tensor *in,
                                      const tfl_tensor *out, int32_t dm, int32_t *scratch) {
  *scratch = -1;
  /* the planner's one form of overlap: the output at the input's first byte (patch-based
   * execution gives band tensors smaller slots than their full size, so a byte-range test would
   * see overlaps that the plan does not make) */
  if (in->data == NULL || in->data != out->data) return TFL_OK;
  if (dm != 1 || in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8 ||
      out->bytes > in->bytes || out->dims[3] <= 0) {
    return TFL_ERR_PLAN_MISMATCH; /* an in-place form the planner never makes */
  }
  return tfl_scratch_request(ctx, node, tfl_tensor_elements(out) / out->dims[3], scratch);
}

/* Filter taps kept in locals per channel; larger filters read the weights in place. */
#define DW_INPLACE_MAX_TAPS 25

/* acc + sum over the whole kh x kw window of x * w (channel stride `ch` in x, `w` one channel's
 * taps); 3x3 (MobileNet's depthwise) unrolled. */
static inline uint32_t dw_channel_window(const int8_t *x, const int32_t *w, int32_t kh, int32_t kw,
                                         int32_t x_rowstep, int32_t x_step, uint32_t acc) {
  if (kh == 3 && kw == 3) {
    const int8_t *r1 = x + x_rowstep, *r2 = r1 + x_rowstep;
    const int32_t s2 = 2 * x_step;
    return acc + (uint32_t)(x[0] * w[0] + x[x_step] * w[1] + x[s2] * w[2] + r1[0] * w[3] +
                            r1[x_step] * w[4] + r1[s2] * w[5] + r2[0] * w[6] + r2[x_step] * w[7] +
                            r2[s2] * w[8]);
  }
  for (int32_t r = 0; r < kh; ++r, x += x_rowstep, w += kw) {
    const int8_t *xp = x;
    for (int32_t f = 0; f < kw; ++f, xp += x_step) acc += (uint32_t)(*xp * w[f]);
  }
  return acc;
}

tfl_status tfl_dwconv_inplace_eval(tfl_context *ctx, const tfl_node *node, const tfl_conv_params *d,
                                   int32_t scratch) {
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const int8_t *x = t.x, *wt = t.wt;
  const int32_t *b = t.b;
  int8_t *y = t.y;
  int8_t *tmp = (int8_t *)tfl_scratch(ctx, scratch);
  /* Locals: int8 stores may alias node->data, which would force reloads. */
  const int32_t out_off = d->output_offset, act_lo = d->act_min, act_hi = d->act_max;
  const int32_t in_off = d->input_offset;
  const int32_t stride_h = d->stride_h, stride_w = d->stride_w, pad_h = d->pad_h, pad_w = d->pad_w;
  const int32_t dil_h = d->dilation_h, dil_w = d->dilation_w;
  const int32_t batches = t.in->dims[0], ih = t.in->dims[1], iw = t.in->dims[2];
  const int32_t ch = t.in->dims[3];
  const int32_t kh = t.w->dims[1], kw = t.w->dims[2], taps = kh * kw;
  const int32_t oh = t.out->dims[1], ow = t.out->dims[2];
  const int32_t pixels = batches * oh * ow;
  const int32_t *mult = ctx->mem.pool + d->pool_index;
  const int32_t *shift = mult + t.w->quant_count;
  const int32_t qmask = t.w->quant_count > 1 ? -1 : 0; /* per-tensor: every channel reads index 0 */
  const int32_t x_rowstep = dil_h * iw * ch, x_step = dil_w * ch;
  int32_t wbuf[DW_INPLACE_MAX_TAPS];
  /* output columns whose whole kw-wide window lies inside the input: [ox_lo, ox_hi) */
  int32_t ox_lo = ow, ox_hi = ow;
  for (int32_t ox = 0; ox < ow; ++ox) {
    int32_t fx0, fx1;
    tfl_conv_valid_taps(ox * stride_w - pad_w, dil_w, iw, kw, &fx0, &fx1);
    const int full = fx0 == 0 && fx1 == kw;
    if (full && ox_lo == ow) ox_lo = ox;
    if (!full && ox_lo < ow && ox_hi == ow) ox_hi = ox;
  }
  for (int32_t c = 0; c < ch; ++c) {
    const int32_t m = mult[c & qmask], s = shift[c & qmask];
    const int32_t bias = b != NULL ? b[c] : 0;
    /* This channel's taps in locals, and in_off * their sum: sum (x + in_off) * w over all taps
     * is sum x * w plus that constant (the same value modulo 2^32, as the accumulator wraps). */
    uint32_t full_offset = 0;
    const int local = taps <= DW_INPLACE_MAX_TAPS;
    for (int32_t k = 0; local && k < taps; ++k) {
      wbuf[k] = wt[k * ch + c];
      full_offset += (uint32_t)(in_off * wbuf[k]);
    }
    /* every output pixel in order (n, oy, ox counted along), into this channel's buffer; the
     * rows' valid taps once per row, the whole-window columns [ox_lo, ox_hi) once per eval */
    int32_t fy0 = 0, fy1 = 0, row_full = 0;
    for (int32_t p = 0, n = 0, oy = 0, ox = 0; p < pixels; ++p) {
      const int32_t y0 = oy * stride_h - pad_h, x0 = ox * stride_w - pad_w;
      if (ox == 0) {
        tfl_conv_valid_taps(y0, dil_h, ih, kh, &fy0, &fy1);
        row_full = local && fy0 == 0 && fy1 == kh;
      }
      uint32_t acc = (uint32_t)bias;
      if (row_full && ox >= ox_lo && ox < ox_hi) { /* the whole window: no border */
        const int8_t *xr = x + ((n * ih + y0) * iw + x0) * ch + c;
        acc = dw_channel_window(xr, wbuf, kh, kw, x_rowstep, x_step, acc + full_offset);
      } else {
        int32_t fx0, fx1;
        tfl_conv_valid_taps(x0, dil_w, iw, kw, &fx0, &fx1);
        if (fx1 > fx0 && fy1 > fy0) {
          const int8_t *xr = x + ((n * ih + y0 + fy0 * dil_h) * iw + x0 + fx0 * dil_w) * ch + c;
          const int8_t *wr = wt + (fy0 * kw + fx0) * ch + c;
          for (int32_t fy = fy0; fy < fy1; ++fy, xr += x_rowstep, wr += kw * ch) {
            const int8_t *xp = xr, *wp = wr;
            for (int32_t f = fx0; f < fx1; ++f, xp += x_step, wp += ch) {
              acc += (uint32_t)((*xp + in_off) * *wp);
            }
          }
        }
      }
      tmp[p] = tfl_mac_output(acc, NULL, c, m, s, out_off, act_lo, act_hi);
      if (++ox == ow) {
        ox = 0;
        if (++oy == oh) {
          oy = 0;
          ++n;
        }
      }
    }
    /* input channel c is read for the last time: its bytes may take output channel c */
    int8_t *yc = y + c;
    for (int32_t p = 0; p < pixels; ++p, yc += ch) *yc = tmp[p];
  }
  return TFL_OK;
}
