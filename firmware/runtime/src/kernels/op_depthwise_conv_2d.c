/* DEPTHWISE_CONV_2D, int8: weights [1, KH, KW, IC * depth_multiplier] per-tensor or per-channel
 * (axis 3, zero points 0), optional int32 bias (16x8: int16 activations, int64 bias,
 * tfl_conv16_eval), stride, dilation, SAME/VALID padding, fused
 * activation. Output channel ic * depth_multiplier + m reads input channel ic.
 * Pool: 2 words per weight scale (1 or OC multipliers, then as many shifts; per-tensor
 * weights read index 0 for every channel). */
#include "tfl_kernel.h"
#include "tfl_kernel_conv.h"
#include "tfl_kernel_dw_inplace.h"
#include "tfl_kernel_mve.h"
#include "tfl_kernel_wz.h"
#include "tfl_mac.h"

/* Accumulators wrap (two's complement, uint32_t in tfl_mac.h) instead of overflowing: identical
 * results for every sane model, defined behaviour for hostile ones (e.g. a bias of INT32_MIN). */

typedef struct {
  tfl_conv_params p;
  int32_t depth_multiplier;
  int32_t inplace_scratch; /* -1, or the one-channel buffer of the in-place eval */
} dwconv_data;
TFL_OP_DATA_FITS(dwconv_data);
/* p stays first: patch-based execution (tfl_patches.c) sets p.pad_h through node->data */
typedef char dwconv_data_params_first[offsetof(dwconv_data, p) == 0 ? 1 : -1];

static tfl_status dwconv_eval_int16(tfl_context *ctx, tfl_node *node) {
  const dwconv_data *d = (const dwconv_data *)node->data;
  return tfl_conv16_eval(ctx, node, &d->p, 1, d->depth_multiplier);
}
TFL_DEFINE_KERNEL16(dwconv_int16, 4, "DEPTHWISE_CONV_2D", dwconv_prepare, dwconv_eval_int16);
/* Compressed weights (tfl_kernel_wz.h): selected by prepare, decoded whole onto the stack. */
static tfl_status dwconv_eval_wz(tfl_context *ctx, tfl_node *node);
static const tfl_kernel dwconv_wz = {4, "DEPTHWISE_CONV_2D", dwconv_prepare,
                                     TFL_EVAL_WZ(dwconv_eval_wz), NULL};

static tfl_status dwconv_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *w, *bias, *out;
  dwconv_data *d = (dwconv_data *)node->data;
  TFL_ENSURE(tfl_conv_tensors(ctx, node, &in, &w, &bias, &out));
  const int32_t kh = w->dims[1], kw = w->dims[2], oc = w->dims[3], ic = in->dims[3];
  if (w->dims[0] != 1 || kh <= 0 || kw <= 0 || ic <= 0 || oc <= 0) return TFL_ERR_BAD_SHAPE;

  int8_t padding, act;
  TFL_ENSURE(tfl_conv_options(ctx, node, &d->depth_multiplier, &padding, &act, &d->p));
  if (d->depth_multiplier <= 0 || ic > INT32_MAX / d->depth_multiplier ||
      ic * d->depth_multiplier != oc) {
    return TFL_ERR_BAD_SHAPE;
  }
  if (out->dims[0] != in->dims[0] || out->dims[3] != oc) return TFL_ERR_BAD_SHAPE;
  if (bias != NULL && tfl_tensor_elements(bias) != oc) return TFL_ERR_BAD_SHAPE;
  TFL_ENSURE(tfl_conv_geometry(in, out, kh, kw, padding, &d->p));
  /* weights [1, KH, KW, IC * depth_multiplier]: per-channel along dim 3 */
  TFL_ENSURE(tfl_conv_quantization(ctx, in, w, out, oc, 3, act, &d->p));
  /* output planned over the input (plan.py, kind "depthwise"): channel by channel */
  TFL_ENSURE(
      tfl_dwconv_inplace_prepare(ctx, node, in, out, d->depth_multiplier, &d->inplace_scratch));
  if (w->is_constant == TFL_CONSTANT_COMPRESSED) {
    /* int8 only, not in place (that eval reads the weights in place), and the whole filter (one
     * blob row) fits the stack buffer */
    if (TFL_IS_INT16(in)) return TFL_ERR_UNSUPPORTED_TYPE;
    if (!TFL_WITH_WZ || d->inplace_scratch >= 0 || tfl_wz_rows(w) != 1 ||
        w->bytes > TFL_WZ_STACK_BYTES)
      return TFL_ERR_BAD_BUFFER;
    node->kernel = &dwconv_wz;
  }
  if (TFL_IS_INT16(in)) {
    /* TFLM's 16x8 depthwise reads its bias as int64 only */
    if (bias != NULL && bias->type != TFL_TYPE_INT64) return TFL_ERR_UNSUPPORTED_TYPE;
    node->kernel = &dwconv_int16;
  }
  return TFL_OK;
}

/* Channels per accumulation pass of the depth multiplier 1 path (accumulators on the stack). */
#define DW_CHUNK 64

/* One output pixel, depth multiplier 1, 4 * groups adjacent channels (contiguous in input and
 * weights), four per pass: acc[c] = sum over the rows x cols valid taps of (x + offset) * w.
 * Out of line so the accumulators and the walking pointers stay in registers; requantization
 * is a separate loop (tfl_mac_output_run). The 3x3 window fully inside the input is unrolled. */
TFL_MAC_NOINLINE static void dw_acc4(const int8_t *x, const int8_t *w, int32_t rows, int32_t cols,
                                     int32_t x_rowstep, int32_t x_step, int32_t w_rowstep,
                                     int32_t oc, int32_t groups, int32_t in_off, uint32_t *acc) {
#if TFL_MAC_DSP
  const uint32_t off = tfl_pack_offset(in_off);
#endif
#define DW_TAP(xp, wp) TFL_MAC_DW_TAP(xp, wp)
  const int full3x3 = rows == 3 && cols == 3 && w_rowstep == 3 * oc;
  for (int32_t g = 0; g < groups; ++g, x += 4, w += 4, acc += 4) {
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (full3x3) {
      const int8_t *xr = x, *wr = w;
      for (int32_t r = 0; r < 3; ++r, xr += x_rowstep, wr += w_rowstep) {
        DW_TAP(xr, wr);
        DW_TAP(xr + x_step, wr + oc);
        DW_TAP(xr + 2 * x_step, wr + 2 * oc);
      }
    } else {
      const int8_t *xr = x, *wr = w;
      for (int32_t r = 0; r < rows; ++r, xr += x_rowstep, wr += w_rowstep) {
        const int8_t *xp = xr, *wp = wr;
        for (int32_t t = 0; t < cols; ++t, xp += x_step, wp += oc) DW_TAP(xp, wp);
      }
    }
    tfl_mac_store4(acc, a0, a1, a2, a3);
  }
#undef DW_TAP
}

/* The depthwise convolution with the weights at wt (not in place: dwconv_eval takes that). */
static tfl_status dwconv_eval_weights(tfl_context *ctx, tfl_node *node, const int8_t *wt) {
  const dwconv_data *dd = (const dwconv_data *)node->data;
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const tfl_tensor *in = t.in, *w = t.w, *out = t.out;
  const int8_t *x = t.x;
  const int32_t *b = t.b;
  int8_t *y = t.y;
  const tfl_conv_params *d = &dd->p;
  /* Locals: int8 output stores may alias node->data, which would force reloads. */
  const int32_t out_off = d->output_offset, act_lo = d->act_min, act_hi = d->act_max;
  const int32_t batches = in->dims[0], ih = in->dims[1], iw = in->dims[2], ic = in->dims[3];
  const int32_t kh = w->dims[1], kw = w->dims[2], oc = w->dims[3];
  const int32_t oh = out->dims[1], ow = out->dims[2];
  const int32_t dm = dd->depth_multiplier;
  const int32_t *mult = ctx->mem.pool + d->pool_index;
  const int32_t *shift = mult + w->quant_count;
  const int32_t qmask = w->quant_count > 1 ? -1 : 0; /* per-tensor: every channel reads index 0 */
  const int32_t in_off = d->input_offset;
  const int32_t x_row = iw * ic, x_step = d->dilation_w * ic;
  const tfl_mac_out o = {b, mult, shift, qmask, out_off, act_lo, act_hi};
  for (int32_t n = 0; n < batches; ++n) {
    const int8_t *xb = x + n * ih * iw * ic;
    for (int32_t oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * d->stride_h - d->pad_h;
      int32_t fy0, fy1;
      tfl_conv_valid_taps(y0, d->dilation_h, ih, kh, &fy0, &fy1);
      for (int32_t ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * d->stride_w - d->pad_w;
        int32_t fx0, fx1;
        tfl_conv_valid_taps(x0, d->dilation_w, iw, kw, &fx0, &fx1);
        const int32_t fy_end = fx1 > fx0 ? fy1 : fy0; /* no valid column: no taps at all */
        int8_t *yp = y + ((n * oh + oy) * ow + ox) * oc;
        /* Pointer to input channel 0 of the first valid tap, and its weights. */
        const int8_t *x_first =
            fy_end > fy0 ? xb + (y0 + fy0 * d->dilation_h) * x_row + (x0 + fx0 * d->dilation_w) * ic
                         : xb;
        const int8_t *w_first = wt + (fy0 * kw + fx0) * oc;
        const int32_t x_rowstep = d->dilation_h * x_row, w_rowstep = kw * oc;
        const int32_t taps_x = fx1 - fx0;
        int32_t c = 0;
#if TFL_MAC_MVE
        if (dm == 1) { /* Helium: four channels per vector, requantized in vector form */
          tfl_mve_dw_pixel(x_first, w_first, fy_end - fy0, taps_x, x_rowstep, x_step, w_rowstep, oc,
                           in_off, &o, yp);
          continue;
        }
#endif
        if (dm == 1 && oc >= 4) {
          uint32_t acc[DW_CHUNK];
          for (; c + 4 <= oc; c += DW_CHUNK) {
            const int32_t n = tfl_min(DW_CHUNK, (oc & ~3) - c);
            dw_acc4(x_first + c, w_first + c, fy_end - fy0, taps_x, x_rowstep, x_step, w_rowstep,
                    oc, n >> 2, in_off, acc);
            tfl_mac_output_run(acc, c, n, &o, yp + c);
          }
          c = oc & ~3;
        }
        for (; c < oc; ++c) { /* remaining channels, and every depth multiplier */
          const int32_t c_in = c / dm;
          uint32_t acc = 0;
          const int8_t *xr = x_first + c_in, *wr = w_first + c;
          for (int32_t fy = fy0; fy < fy_end; ++fy, xr += x_rowstep, wr += w_rowstep) {
            const int8_t *xp = xr, *wp = wr;
            for (int32_t t = 0; t < taps_x; ++t, xp += x_step, wp += oc) {
              acc += (uint32_t)((*xp + in_off) * *wp);
            }
          }
          yp[c] =
              tfl_mac_output(acc, b, c, mult[c & qmask], shift[c & qmask], out_off, act_lo, act_hi);
        }
      }
    }
  }
  return TFL_OK;
}

static tfl_status dwconv_eval(tfl_context *ctx, tfl_node *node) {
  const dwconv_data *dd = (const dwconv_data *)node->data;
  if (dd->inplace_scratch >= 0)
    return tfl_dwconv_inplace_eval(ctx, node, &dd->p, dd->inplace_scratch);
  return dwconv_eval_weights(ctx, node, (const int8_t *)tfl_node_input(ctx, node, 1)->data);
}

static tfl_status dwconv_eval_wz(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  int8_t buf[TFL_WZ_STACK_BYTES];
  tfl_wz_decode_rows(w, 0, 1, buf);
  return dwconv_eval_weights(ctx, node, buf);
}

TFL_DEFINE_KERNEL(depthwise_conv_2d, 4, "DEPTHWISE_CONV_2D", dwconv_prepare, dwconv_eval);
TFL_DEFINE_PREPARE(depthwise_conv_2d, dwconv_prepare);
