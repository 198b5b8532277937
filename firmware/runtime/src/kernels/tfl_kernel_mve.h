/* Cortex-M55 Helium (MVE, Armv8.1-M M-profile vector extension) paths of CONV_2D,
 * DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, AVERAGE_POOL_2D and MAX_POOL_2D (int8), compiled
 * when TFL_USE_MVE=1 on a core with MVE (TFL_MAC_MVE in tfl_mac.h; the board manifest's kernel
 * set "mve"). Each op file calls these from its eval for the shapes they take and keeps its own
 * loops for the rest; the DSP (SMLAD) paths are compiled out under MVE.
 *
 * Exactness: accumulators wrap modulo 2^32 like the portable ones (VMLADAVA, VMLA and VADD wrap),
 * so any summation order gives the same bits; sum (x + off) * w is computed as sum x * w plus
 * off * sum w, the same value modulo 2^32. Requantization (tfl_kernel_mve.c's mve_requant) is
 * TFLM's: VQRDMULH is SaturatingRoundingDoublingHighMul bit for bit (floor((a * b + 2^30) / 2^31),
 * INT32_MAX for INT32_MIN squared), and RoundingDivideByPOT's half-away-from-zero rounding is
 * VRSHL (half up) of x - 1 for negative x. */
#ifndef TFL_KERNEL_MVE_H
#define TFL_KERNEL_MVE_H

#include "tfl_kernel_broadcast.h"
#include "tfl_kernel_pool2d.h"
#include "tfl_mac.h"

/* Largest CONV_2D filter (weights per output channel) the Helium path takes: its im2col row is
 * arena scratch (toolchain/tinyflash/plan.py's MVE_MAX_FILTER is the same number). */
#define TFL_MVE_MAX_FILTER 4096

#if TFL_MAC_MVE

/* CONV_2D's arena scratch on the Helium path (one group, filter_size <= TFL_MVE_MAX_FILTER):
 * the im2col row (filter_size rounded up to 4; none when `pointwise`, a 1x1 stride-1
 * convolution keeping height and width, which reads the pixel itself), then one int32 per
 * output channel (bias + input offset x weight sum). plan.py's mve_conv_scratch_bytes. */
static inline int32_t tfl_mve_conv_scratch_bytes(int32_t filter_size, int32_t oc, int pointwise) {
  return (pointwise ? 0 : (filter_size + 3) & ~3) + 4 * oc;
}

/* One CONV_2D (one group, int8) over NHWC tensors. */
typedef struct {
  const int8_t *x, *w;
  int8_t *y;
  int32_t batches, ih, iw, ic, oc, kh, kw, oh, ow;
  int32_t stride_w, stride_h, dil_w, dil_h, pad_w, pad_h;
  int32_t in_off;
  int pointwise;   /* 1x1, stride 1, output height/width = input's: no im2col */
  int8_t *row;     /* scratch: im2col row (unused when pointwise) */
  uint32_t *sums;  /* scratch: oc words, bias + in_off * weight sum per channel */
  tfl_mac_out out; /* bias (folded into sums), multipliers, offsets, clamp */
} tfl_mve_conv_args;
void tfl_mve_conv(const tfl_mve_conv_args *a);

/* DEPTHWISE_CONV_2D, depth multiplier 1: one output pixel, channels 0 .. oc - 1. x and w point at
 * channel 0 of the first valid tap; rows x cols valid taps, steps as in op_depthwise_conv_2d.c. */
void tfl_mve_dw_pixel(const int8_t *x, const int8_t *w, int32_t rows, int32_t cols,
                      int32_t x_rowstep, int32_t x_step, int32_t w_rowstep, int32_t oc,
                      int32_t in_off, const tfl_mac_out *o, int8_t *y);

/* FULLY_CONNECTED with weight zero point 0: batches rows of depth, units outputs each. */
void tfl_mve_fc(const int8_t *x, const int8_t *w, int32_t batches, int32_t depth, int32_t units,
                int32_t in_off, const tfl_mac_out *o, int8_t *y);

/* ADD, int8, same-shape inputs, left shift 20: n elements. */
void tfl_mve_add(const tfl_addsub_params *d, const int8_t *in1, const int8_t *in2, int8_t *out,
                 int32_t n);

/* AVERAGE_POOL_2D (average = 1) or MAX_POOL_2D (average = 0), int8 NHWC: the ch channels of one
 * output pixel from a window of rows x cols taps (none: a window wholly in the padding) whose
 * first tap is at `first`, rows `row` bytes apart. */
void tfl_mve_pool_window(const int8_t *first, int32_t rows, int32_t cols, int32_t row, int32_t ch,
                         int32_t lo, int32_t hi, int average, int8_t *y);

#endif

#endif
