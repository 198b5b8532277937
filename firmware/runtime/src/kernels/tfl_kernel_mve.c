/* Helium (MVE) kernels: see tfl_kernel_mve.h for what they compute and why it is exact. Tails
 * are predicated (VCTP; zeroing loads and predicated stores touch only the active lanes), so no
 * load or store leaves a tensor. */
#include "tfl_kernel_mve.h"

#include "tfl_kernel_conv.h"

#if TFL_MAC_MVE

#include <arm_mve.h>

/* Output channels per requantization pass (accumulators on the stack). */
#define MVE_CHUNK 32

/* The vector helpers are inlined into their loops and the loops built at -O2 whatever the
 * project's level: at -Os GCC 12 keeps helpers out of line (vectors through the stack) and
 * rebuilds each predicate in the loop (measured: 3x the instructions). */
#if defined(__GNUC__) && !defined(__clang__)
#define MVE_HOT __attribute__((optimize("O2")))
#else
#define MVE_HOT
#endif
#define MVE_INLINE static inline __attribute__((always_inline))

/* Loads and stores of 4 lanes: predicated (`tail`, a constant at every call) only for the last,
 * partial group of channels; a VPST before each predicated access is an instruction too. */
MVE_INLINE int32x4_t mve_ldw(const int32_t *a, mve_pred16_t p, int tail) {
  return tail ? vldrwq_z_s32(a, p) : vldrwq_s32(a);
}
MVE_INLINE int32x4_t mve_ldb(const int8_t *a, mve_pred16_t p, int tail) {
  return tail ? vldrbq_z_s32(a, p) : vldrbq_s32(a);
}

/* One multiplier per lane and its shift split into a left shift (>= 0) and a rounding right
 * shift (as VRSHL's negative amount, -31 .. 0; the reference clamps larger right shifts to 31
 * like tfl_mac_requantize). */
typedef struct {
  int32x4_t mult, left, right;
} mve_scale;

MVE_INLINE mve_scale mve_scale_of(int32x4_t mult, int32x4_t shift) {
  mve_scale s;
  s.mult = mult;
  s.left = vmaxq_s32(shift, vdupq_n_s32(0));
  s.right = vmaxq_s32(vminq_s32(shift, vdupq_n_s32(0)), vdupq_n_s32(-31));
  return s;
}

/* TFLM's MultiplyByQuantizedMultiplier per lane: wrapping left shift, VQRDMULH (exactly
 * SaturatingRoundingDoublingHighMul), then RoundingDivideByPOT: VRSHL rounds half up, so
 * negative values take one off first (saturating; INT32_MIN is exact either way), which turns
 * it into the reference's half away from zero. `right & high` has the sign bit of high exactly
 * when the right shift is non-zero, so the fix-up is -1 only then. */
MVE_INLINE int32x4_t mve_requant(int32x4_t x, const mve_scale *s) {
  const int32x4_t high = vqrdmulhq_s32(vshlq_s32(x, s->left), s->mult);
  const int32x4_t fixup = vshrq_n_s32(vandq_s32(high, s->right), 31);
  return vrshlq_s32(vqaddq_s32(high, fixup), s->right);
}

/* Output offset, clamp, and the active lanes' low bytes stored. */
MVE_INLINE void mve_store(int32x4_t v, int32_t out_off, int32_t lo, int32_t hi, int8_t *y,
                          mve_pred16_t p, int tail) {
  v = vaddq_n_s32(v, out_off);
  v = vminq_s32(vmaxq_s32(v, vdupq_n_s32(lo)), vdupq_n_s32(hi));
  if (tail) {
    vstrbq_p_s32(y, v, p);
  } else {
    vstrbq_s32(y, v);
  }
}

/* Words c .. c + 3 of a per-channel table, or word 0 in every lane for per-tensor (qmask 0). */
MVE_INLINE int32x4_t mve_channel_words(const int32_t *table, int32_t c, int32_t qmask,
                                       mve_pred16_t p, int tail) {
  return qmask != 0 ? mve_ldw(table + c, p, tail) : vdupq_n_s32(table[0]);
}

/* Accumulators of channels c .. c + 3 (active lanes) with bias, requantized and stored. */
MVE_INLINE void mve_output4(int32x4_t acc, int32_t c, const tfl_mac_out *o, int8_t *y,
                            mve_pred16_t p, int tail) {
  if (o->bias != NULL) acc = vaddq_s32(acc, mve_ldw(o->bias + c, p, tail));
  const mve_scale s = mve_scale_of(mve_channel_words(o->mult, c, o->qmask, p, tail),
                                   mve_channel_words(o->shift, c, o->qmask, p, tail));
  mve_store(mve_requant(acc, &s), o->out_offset, o->act_min, o->act_max, y, p, tail);
}

/* y[i] = output of acc[i] for channels c0 .. c0 + n - 1, four per pass. */
MVE_HOT static void mve_output_run(const uint32_t *acc, int32_t c0, int32_t n, const tfl_mac_out *o,
                                   int8_t *y) {
  const tfl_mac_out oo = *o; /* a local copy: the int8 stores cannot alias it, no reloads */
  const int32_t *a = (const int32_t *)acc;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) mve_output4(vldrwq_s32(a + i), c0 + i, &oo, y + i, 0, 0);
  if (i < n) {
    const mve_pred16_t p = vctp32q((uint32_t)(n - i));
    mve_output4(vldrwq_z_s32(a + i, p), c0 + i, &oo, y + i, p, 1);
  }
}

/* acc[j] = sum_k x[k] * w[j * stride + k], k < len, j = 0..3 (16 products per VMLADAVA): whole
 * vectors unpredicated, the last len % 16 with a predicate. */
TFL_MAC_NOINLINE static void mve_dot4(const int8_t *x, const int8_t *w, int32_t stride, int32_t len,
                                      uint32_t *acc) {
  const int8_t *w0 = w, *w1 = w + stride, *w2 = w1 + stride, *w3 = w2 + stride;
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  const int32_t k = len & 15;
  int32_t blocks = len >> 4;
  if (blocks > 0) {
    /* Whole vectors with post-incrementing loads: 11 instructions per 64 products (GCC 12
     * recomputes each address from the loop counter instead: 16). VMLADAVA accumulates into
     * an even register, hence the register variables. */
    register int32_t r0_ __asm__("r4") = a0;
    register int32_t r1_ __asm__("r6") = a1;
    register int32_t r2_ __asm__("r8") = a2;
    register int32_t r3_ __asm__("r10") = a3;
    __asm__ volatile(
        "1:\n"
        "vldrb.u8 q0, [%[x]], #16\n"
        "vldrb.u8 q1, [%[w0]], #16\n"
        "vmlava.s8 %[a0], q0, q1\n"
        "vldrb.u8 q2, [%[w1]], #16\n"
        "vmlava.s8 %[a1], q0, q2\n"
        "vldrb.u8 q3, [%[w2]], #16\n"
        "vmlava.s8 %[a2], q0, q3\n"
        "vldrb.u8 q1, [%[w3]], #16\n"
        "vmlava.s8 %[a3], q0, q1\n"
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        : [a0] "+r"(r0_), [a1] "+r"(r1_), [a2] "+r"(r2_), [a3] "+r"(r3_), [x] "+r"(x),
          [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [n] "+r"(blocks)
        :
        : "q0", "q1", "q2", "q3", "memory", "cc");
    a0 = r0_;
    a1 = r1_;
    a2 = r2_;
    a3 = r3_;
  }
  if (k > 0) {
    const mve_pred16_t p = vctp8q((uint32_t)k);
    const int8x16_t xv = vldrbq_z_s8(x, p);
    a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w0, p));
    a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1, p));
    a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2, p));
    a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3, p));
  }
  acc[0] = (uint32_t)a0;
  acc[1] = (uint32_t)a1;
  acc[2] = (uint32_t)a2;
  acc[3] = (uint32_t)a3;
}

/* sum_k x[k] * w[k], k < len. */
TFL_MAC_NOINLINE static uint32_t mve_dot1(const int8_t *x, const int8_t *w, int32_t len) {
  int32_t a = 0, k = len;
  for (; k >= 16; k -= 16, x += 16, w += 16) a = vmladavaq_s8(a, vldrbq_s8(x), vldrbq_s8(w));
  if (k > 0) {
    const mve_pred16_t p = vctp8q((uint32_t)k);
    a = vmladavaq_s8(a, vldrbq_z_s8(x, p), vldrbq_z_s8(w, p));
  }
  return (uint32_t)a;
}

/* sum_k w[k], k < len. */
MVE_HOT static uint32_t mve_sum(const int8_t *w, int32_t len) {
  int32_t a = 0, k = len;
  for (; k >= 16; k -= 16, w += 16) a = vaddvaq_s8(a, vldrbq_s8(w));
  if (k > 0) a = vaddvaq_s8(a, vldrbq_z_s8(w, vctp8q((uint32_t)k)));
  return (uint32_t)a;
}

/* acc[j] = the dot products of x with the n rows of w (stride apart), four per pass. */
MVE_HOT static void mve_dot_rows(const int8_t *x, const int8_t *w, int32_t stride, int32_t len,
                                 int32_t n, uint32_t *acc) {
  int32_t j = 0;
  for (; j + 4 <= n; j += 4) mve_dot4(x, w + j * stride, stride, len, acc + j);
  for (; j < n; ++j) acc[j] = mve_dot1(x, w + j * stride, len);
}

MVE_INLINE void mve_copy(int8_t *dst, const int8_t *src, int32_t n) {
  for (; n >= 16; n -= 16, dst += 16, src += 16) vstrbq_s8(dst, vldrbq_s8(src));
  if (n > 0) {
    const mve_pred16_t p = vctp8q((uint32_t)n);
    vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
  }
}

MVE_INLINE void mve_fill(int8_t *dst, int8_t value, int32_t n) {
  const int8x16_t v = vdupq_n_s8(value);
  for (; n >= 16; n -= 16, dst += 16) vstrbq_s8(dst, v);
  if (n > 0) vstrbq_p_s8(dst, v, vctp8q((uint32_t)n));
}

/* The receptive field of the output pixel whose window starts at (y0, x0) as one row: taps
 * outside the input hold the input zero point (x + in_off = 0 there, like skipping them). */
MVE_HOT static void mve_im2col(const tfl_mve_conv_args *a, const int8_t *xb, int32_t y0,
                               int32_t x0) {
  const int32_t ic = a->ic, kw = a->kw;
  const int8_t zero = (int8_t)-a->in_off;
  int32_t fx0 = 0, fx1 = kw;
  if (a->dil_w == 1) tfl_conv_valid_taps(x0, 1, a->iw, kw, &fx0, &fx1);
  int8_t *dst = a->row;
  for (int32_t fy = 0; fy < a->kh; ++fy, dst += kw * ic) {
    const int32_t iy = y0 + fy * a->dil_h;
    if (iy < 0 || iy >= a->ih) {
      mve_fill(dst, zero, kw * ic);
    } else if (a->dil_w == 1) { /* one contiguous run of the input row */
      const int8_t *xr = xb + iy * a->iw * ic;
      if (fx1 > fx0) {
        mve_fill(dst, zero, fx0 * ic);
        mve_copy(dst + fx0 * ic, xr + (x0 + fx0) * ic, (fx1 - fx0) * ic);
        mve_fill(dst + fx1 * ic, zero, (kw - fx1) * ic);
      } else {
        mve_fill(dst, zero, kw * ic);
      }
    } else {
      for (int32_t fx = 0; fx < kw; ++fx) {
        const int32_t ix = x0 + fx * a->dil_w;
        if (ix < 0 || ix >= a->iw) {
          mve_fill(dst + fx * ic, zero, ic);
        } else {
          mve_copy(dst + fx * ic, xb + (iy * a->iw + ix) * ic, ic);
        }
      }
    }
  }
}

MVE_HOT void tfl_mve_conv(const tfl_mve_conv_args *a) {
  const int32_t fs = a->kh * a->kw * a->ic, oc = a->oc;
  /* bias + in_off * sum of the channel's weights, once: every pixel's dot products then take
   * the activations as they are (sum (x + off) * w = sum x * w + off * sum w, mod 2^32) */
  for (int32_t c = 0; c < oc; ++c) {
    uint32_t s = mve_sum(a->w + c * fs, fs) * (uint32_t)a->in_off;
    if (a->out.bias != NULL) s += (uint32_t)a->out.bias[c];
    a->sums[c] = s;
  }
  tfl_mac_out o = a->out;
  o.bias = (const int32_t *)a->sums;
  uint32_t acc[MVE_CHUNK];
  for (int32_t n = 0; n < a->batches; ++n) {
    const int8_t *xb = a->x + n * a->ih * a->iw * a->ic;
    for (int32_t oy = 0; oy < a->oh; ++oy) {
      for (int32_t ox = 0; ox < a->ow; ++ox) {
        int8_t *yp = a->y + ((n * a->oh + oy) * a->ow + ox) * oc;
        const int8_t *src = xb + (oy * a->iw + ox) * a->ic; /* pointwise: the pixel itself */
        if (!a->pointwise) {
          mve_im2col(a, xb, oy * a->stride_h - a->pad_h, ox * a->stride_w - a->pad_w);
          src = a->row;
        }
        for (int32_t c0 = 0; c0 < oc; c0 += MVE_CHUNK) {
          const int32_t count = tfl_min(MVE_CHUNK, oc - c0);
          mve_dot_rows(src, a->w + c0 * fs, fs, fs, count, acc);
          mve_output_run(acc, c0, count, &o, yp + c0);
        }
      }
    }
  }
}

/* acc + (x + in_off) * w for the 4 channels at xp, wp (active lanes of p; MVE has no VMLA by
 * vector). */
MVE_INLINE int32x4_t mve_dw_tap(int32x4_t acc, const int8_t *xp, const int8_t *wp, int32_t in_off,
                                mve_pred16_t p, int tail) {
  const int32x4_t xv = vaddq_n_s32(mve_ldb(xp, p, tail), in_off);
  return vaddq_s32(acc, vmulq_s32(xv, mve_ldb(wp, p, tail)));
}

/* Channels c .. c + 3 of one depthwise output pixel (tfl_mve_dw_pixel). */
MVE_INLINE void mve_dw_channels(const int8_t *x, const int8_t *w, int32_t rows, int32_t cols,
                                int32_t x_rowstep, int32_t x_step, int32_t w_rowstep, int32_t oc,
                                int32_t in_off, const tfl_mac_out *o, int8_t *y, int32_t c,
                                int tail) {
  const int full3x3 = rows == 3 && cols == 3;
  const mve_pred16_t p = tail ? vctp32q((uint32_t)(oc - c)) : 0;
  {
    int32x4_t acc = vdupq_n_s32(0);
    const int8_t *xr = x + c, *wr = w + c;
    if (full3x3) { /* the usual window, unrolled */
      for (int32_t r = 0; r < 3; ++r, xr += x_rowstep, wr += w_rowstep) {
        acc = mve_dw_tap(acc, xr, wr, in_off, p, tail);
        acc = mve_dw_tap(acc, xr + x_step, wr + oc, in_off, p, tail);
        acc = mve_dw_tap(acc, xr + 2 * x_step, wr + 2 * oc, in_off, p, tail);
      }
    } else {
      for (int32_t r = 0; r < rows; ++r, xr += x_rowstep, wr += w_rowstep) {
        const int8_t *xp = xr, *wp = wr;
        for (int32_t t = 0; t < cols; ++t, xp += x_step, wp += oc) {
          acc = mve_dw_tap(acc, xp, wp, in_off, p, tail);
        }
      }
    }
    mve_output4(acc, c, o, y + c, p, tail);
  }
}

MVE_HOT void tfl_mve_dw_pixel(const int8_t *x, const int8_t *w, int32_t rows, int32_t cols,
                              int32_t x_rowstep, int32_t x_step, int32_t w_rowstep, int32_t oc,
                              int32_t in_off, const tfl_mac_out *o, int8_t *y) {
  const tfl_mac_out oo = *o; /* a local copy: the int8 stores cannot alias it, no reloads */
  int32_t c = 0;
  for (; c + 4 <= oc; c += 4) {
    mve_dw_channels(x, w, rows, cols, x_rowstep, x_step, w_rowstep, oc, in_off, &oo, y, c, 0);
  }
  if (c < oc) {
    mve_dw_channels(x, w, rows, cols, x_rowstep, x_step, w_rowstep, oc, in_off, &oo, y, c, 1);
  }
}

MVE_HOT void tfl_mve_fc(const int8_t *x, const int8_t *w, int32_t batches, int32_t depth,
                        int32_t units, int32_t in_off, const tfl_mac_out *o, int8_t *y) {
  uint32_t acc[MVE_CHUNK];
  for (int32_t b = 0; b < batches; ++b, x += depth, y += units) {
    for (int32_t u0 = 0; u0 < units; u0 += MVE_CHUNK) {
      const int32_t count = tfl_min(MVE_CHUNK, units - u0);
      const int8_t *wu = w + u0 * depth;
      mve_dot_rows(x, wu, depth, depth, count, acc);
      for (int32_t j = 0; j < count; ++j)
        acc[j] += mve_sum(wu + j * depth, depth) * (uint32_t)in_off;
      mve_output_run(acc, u0, count, o, y + u0);
    }
  }
}

MVE_HOT void tfl_mve_add(const tfl_addsub_params *d, const int8_t *in1, const int8_t *in2,
                         int8_t *out, int32_t n) {
  const mve_scale s1 =
      mve_scale_of(vdupq_n_s32(d->input1_multiplier), vdupq_n_s32(d->input1_shift));
  const mve_scale s2 =
      mve_scale_of(vdupq_n_s32(d->input2_multiplier), vdupq_n_s32(d->input2_shift));
  const mve_scale so =
      mve_scale_of(vdupq_n_s32(d->output_multiplier), vdupq_n_s32(d->output_shift));
  const int32_t off1 = d->input1_offset, off2 = d->input2_offset;
  const int32_t out_off = d->output_offset, lo = d->act_min, hi = d->act_max;
  for (int32_t i = 0; i < n; i += 4) {
    const mve_pred16_t p = vctp32q((uint32_t)(n - i));
    const int32x4_t a = vshlq_n_s32(vaddq_n_s32(vldrbq_z_s32(in1 + i, p), off1), 20);
    const int32x4_t b = vshlq_n_s32(vaddq_n_s32(vldrbq_z_s32(in2 + i, p), off2), 20);
    const int32x4_t sum = vaddq_s32(mve_requant(a, &s1), mve_requant(b, &s2));
    mve_store(mve_requant(sum, &so), out_off, lo, hi, out + i, p, 1);
  }
}

/* Mean of `count` window sums, rounded half away from zero (integer division), clamped. */
static int8_t mve_average(int32_t sum, int32_t count, int32_t lo, int32_t hi) {
  int32_t v = 0;
  if (count > 0) v = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
  return (int8_t)tfl_clamp(v, lo, hi);
}

MVE_HOT void tfl_mve_pool_window(const int8_t *first, int32_t rows, int32_t cols, int32_t row,
                                 int32_t ch, int32_t lo, int32_t hi, int average, int8_t *y) {
  if (!average) {
    for (int32_t c = 0; c < ch; c += 16) {
      const mve_pred16_t p = vctp8q((uint32_t)(ch - c));
      int8x16_t v = vdupq_n_s8(-128);
      for (int32_t r = 0; r < rows; ++r) {
        const int8_t *xp = first + r * row + c;
        for (int32_t t = 0; t < cols; ++t, xp += ch) v = vmaxq_s8(v, vldrbq_z_s8(xp, p));
      }
      v = vminq_s8(vmaxq_s8(v, vdupq_n_s8((int8_t)lo)), vdupq_n_s8((int8_t)hi));
      vstrbq_p_s8(y + c, v, p);
    }
    return;
  }
  for (int32_t c = 0; c < ch; c += 4) {
    const mve_pred16_t p = vctp32q((uint32_t)(ch - c));
    int32x4_t s = vdupq_n_s32(0);
    for (int32_t r = 0; r < rows; ++r) {
      const int8_t *xp = first + r * row + c;
      for (int32_t t = 0; t < cols; ++t, xp += ch) s = vaddq_s32(s, vldrbq_z_s32(xp, p));
    }
    int32_t sums[4];
    vst1q_s32(sums, s);
    for (int32_t j = 0; j < 4 && c + j < ch; ++j) {
      y[c + j] = mve_average(sums[j], rows * cols, lo, hi);
    }
  }
}

#endif
