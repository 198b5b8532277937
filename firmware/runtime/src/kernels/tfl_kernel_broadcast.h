/* Shared by the binary elementwise kernels (ADD, SUB, MUL, MAXIMUM, MINIMUM):
 * NumPy-style broadcasting (the shape check for prepare, a walk over the output in rows for
 * eval) and the branch-free double-rounding rescale of the requantizing ones.
 *
 * The walk lists the output's dims innermost first, with size-1 dims dropped and neighbouring
 * dims that broadcast the same way merged; each input steps along a dim by its element stride,
 * or by 0 where it broadcasts. Same-shape inputs give one row of every element. Each row goes
 * to the kernel's row function with both inputs' element steps. */
#ifndef TFL_KERNEL_BROADCAST_H
#define TFL_KERNEL_BROADCAST_H

#include "tfl_kernel.h"

/* Computes out[i] for i in [0, n) from in1[i * step1] and in2[i * step2] (steps >= 0);
 * `params` is the kernel's own data. */
typedef void (*tfl_broadcast_row)(const void *params, const int8_t *in1, int32_t step1,
                                  const int8_t *in2, int32_t step2, int8_t *out, int32_t n);

/* The same for int16 elements (16x8 kernels). */
typedef void (*tfl_broadcast_row16)(const void *params, const int16_t *in1, int32_t step1,
                                    const int16_t *in2, int32_t step2, int16_t *out, int32_t n);

/* TFL_OK when out's shape is the broadcast of a's and b's shapes, else TFL_ERR_BAD_SHAPE. */
TFL_MUST_CHECK tfl_status tfl_broadcast_check(const tfl_tensor *a, const tfl_tensor *b,
                                              const tfl_tensor *out);

/* Runs `row` over the whole int8 output in order; nothing for an empty output. The shapes
 * were checked by tfl_broadcast_check in prepare. */
void tfl_broadcast_run(const tfl_tensor *in1, const tfl_tensor *in2, const tfl_tensor *out,
                       tfl_broadcast_row row, const void *params);

/* tfl_broadcast_run for elements of in_bytes (both inputs) and out_bytes (the output): the row
 * function gets byte pointers to the first elements and steps counted in elements. */
void tfl_broadcast_run_sized(const tfl_tensor *in1, const tfl_tensor *in2, const tfl_tensor *out,
                             tfl_broadcast_row row, const void *params, int32_t in_bytes,
                             int32_t out_bytes);

/* The eval of a kernel that is one broadcast row function over its node data: `row` runs over
 * inputs 0 and 1 into output 0 with a copy of node->data as its params. Returns TFL_OK. */
TFL_MUST_CHECK tfl_status tfl_broadcast_eval(tfl_context *ctx, const tfl_node *node,
                                             tfl_broadcast_row row);

/* tfl_broadcast_eval with an int16 row function. */
TFL_MUST_CHECK tfl_status tfl_broadcast_eval16(tfl_context *ctx, const tfl_node *node,
                                               tfl_broadcast_row16 row);

/* TFL_OK when both inputs and the output are quantized with positive scales (the binary ops that
 * rescale: ADD, SUB, MUL, SQUARED_DIFFERENCE), else TFL_ERR_BAD_QUANTIZATION. */
TFL_MUST_CHECK tfl_status tfl_broadcast_quant_check(const tfl_tensor *in1, const tfl_tensor *in2,
                                                    const tfl_tensor *out);

/* One input of a binary op rescaled to a common scale: its zero point and the quantized
 * multiplier (Q31 and shift) of its scale's ratio to the common one. */
typedef struct {
  int32_t zero_point;
  int32_t multiplier;
  int32_t shift;
} tfl_input_rescale;

/* The start of a binary int8 op's prepare: inputs 0, 1 and output 0 present (*in1, *in2, *out)
 * and int8, shapes that broadcast. */
TFL_MUST_CHECK tfl_status tfl_broadcast_tensors_int8(tfl_context *ctx, const tfl_node *node,
                                                     const tfl_tensor **in1, const tfl_tensor **in2,
                                                     const tfl_tensor **out);

/* The prepare of kernels without parameters (MAXIMUM, MINIMUM): both inputs and the output
 * present and int8, shapes that broadcast. */
TFL_MUST_CHECK tfl_status tfl_broadcast_prepare_int8(tfl_context *ctx, tfl_node *node);

/* Element i of an int32 row that steps by `step` elements from the byte pointer p (rows of
 * tfl_broadcast_run_sized): loaded by memcpy, as constant inputs are model bytes, maybe
 * unaligned. */
static inline int32_t tfl_broadcast_i32(const int8_t *p, int32_t i, int32_t step) {
  int32_t v;
  memcpy(&v, p + (size_t)i * (size_t)step * 4, 4);
  return v;
}

/* The prepare of MAXIMUM and MINIMUM: tfl_broadcast_prepare_int8, or all three int32, or all
 * three int16 (16x8; TFLM compares the stored values whatever their quantization). */
TFL_MUST_CHECK tfl_status tfl_broadcast_prepare_minmax(tfl_context *ctx, tfl_node *node);

/* The prepare checks of the requantizing kernels that also run 16x8 (ADD, SUB, MUL): both
 * inputs (*in1, *in2) and the output (*out) present, all int8 (*wide = 0) or all int16
 * (*wide = 1, zero points 0), quantized with positive scales, shapes that broadcast. */
TFL_MUST_CHECK tfl_status tfl_broadcast_prepare_wide(tfl_context *ctx, const tfl_node *node,
                                                     const tfl_tensor **in1, const tfl_tensor **in2,
                                                     const tfl_tensor **out, int *wide);

/* The eval of MAXIMUM (maximum = 1) and MINIMUM (maximum = 0): the larger or smaller of the
 * two raw int8 (or int16, or int32) values, element by element, with no requantization (TFLite's
 * converter gives both inputs and the output one scale and zero point, and TFLM compares the
 * stored values). */
tfl_status tfl_broadcast_minmax_eval(tfl_context *ctx, tfl_node *node, int maximum);

#if defined(__GNUC__)
#define TFL_BINARY_INLINE static inline __attribute__((always_inline))
#else
#define TFL_BINARY_INLINE static inline
#endif

/* x * multiplier * 2^-right_shift with TFLM's double rounding, in the branch-free form that
 * gives the same integers: the saturating rounding doubling high multiply (ties toward zero
 * from the truncating division with a -/+ nudge) equals floor((x * m + 2^30) / 2^31), and the
 * rounding divide by 2^s (ties away from zero) equals floor((high + 2^(s-1) - [high < 0]) / 2^s)
 * for s >= 1 (round = 2^(s-1), sign_mask = -1; both 0 for s = 0). The caller keeps x away
 * from the saturating case (x == m == INT32_MIN) and high + round from overflowing (each
 * kernel says why its operands do). */
TFL_BINARY_INLINE int32_t tfl_binary_scale(int32_t x, int32_t multiplier, int32_t right_shift,
                                           int32_t round, int32_t sign_mask) {
  const int32_t high = (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << 30)) >> 31);
  return (high + round + ((high >> 31) & sign_mask)) >> right_shift;
}

/* Element i of an int8 (wide = 0) or int16 (wide = 1) array; `wide` is a constant at every
 * call site, so the inlined choice costs nothing. */
TFL_BINARY_INLINE int32_t tfl_binary_load(const void *p, int32_t i, int wide) {
  return wide ? ((const int16_t *)p)[i] : ((const int8_t *)p)[i];
}
TFL_BINARY_INLINE void tfl_binary_store(void *p, int32_t i, int32_t v, int wide) {
  if (wide) {
    ((int16_t *)p)[i] = (int16_t)v;
  } else {
    ((int8_t *)p)[i] = (int8_t)v;
  }
}

/* ADD and SUB (int8 and int16): TFLite's quantization of both inputs to a common scale (twice the larger
 * input scale, left shift 20) and back to the output scale. */
typedef struct {
  int32_t input1_offset;
  int32_t input2_offset;
  int32_t output_offset;
  int32_t left_shift;
  int32_t input1_multiplier;
  int32_t input1_shift;
  int32_t input2_multiplier;
  int32_t input2_shift;
  int32_t output_multiplier;
  int32_t output_shift;
  int32_t act_min;
  int32_t act_max;
  int32_t subtract; /* SUB: 1 (read by the int16 eval) */
} tfl_addsub_params;
TFL_OP_DATA_FITS(tfl_addsub_params);

/* One broadcast row of ADD (subtract = 0) or SUB (subtract = 1) over int8 (wide = 0) or int16
 * (wide = 1) elements (constants at each call site: inlined, the choices cost nothing).
 * Operands of tfl_binary_scale: every multiplier has shift <= 0 (tfl_addsub_prepare) and
 * |x| <= 2^30 (int8: 255 << 20; int16: 32768 << 15 with zero points 0), so the saturating case
 * cannot occur and high + round cannot overflow. */
TFL_BINARY_INLINE void tfl_addsub_row(const tfl_addsub_params *d, const void *in1, int32_t step1,
                                      const void *in2, int32_t step2, void *out, int32_t n,
                                      int subtract, int wide) {
  /* parameters in locals: stores through the output may alias *d, which would force reloads */
  const int32_t offset1 = d->input1_offset;
  const int32_t offset2 = d->input2_offset;
  const int32_t output_offset = d->output_offset;
  const int32_t left_shift = d->left_shift;
  const int32_t m1 = d->input1_multiplier;
  const int32_t r1 = -d->input1_shift;
  const int32_t m2 = d->input2_multiplier;
  const int32_t r2 = -d->input2_shift;
  const int32_t mo = d->output_multiplier;
  const int32_t ro = -d->output_shift;
  const int32_t act_min = d->act_min;
  const int32_t act_max = d->act_max;
  const int32_t round1 = r1 > 0 ? (int32_t)1 << (r1 - 1) : 0;
  const int32_t round2 = r2 > 0 ? (int32_t)1 << (r2 - 1) : 0;
  const int32_t roundo = ro > 0 ? (int32_t)1 << (ro - 1) : 0;
  const int32_t sign1 = r1 > 0 ? -1 : 0;
  const int32_t sign2 = r2 > 0 ? -1 : 0;
  const int32_t signo = ro > 0 ? -1 : 0;
  int32_t i;
  int32_t o1 = 0;
  int32_t o2 = 0;
  for (i = 0; i < n; ++i) {
    const int32_t scaled1 = tfl_binary_scale(
        (tfl_binary_load(in1, o1, wide) + offset1) * (1 << left_shift), m1, r1, round1, sign1);
    const int32_t scaled2 = tfl_binary_scale(
        (tfl_binary_load(in2, o2, wide) + offset2) * (1 << left_shift), m2, r2, round2, sign2);
    const int32_t raw =
        tfl_binary_scale(subtract ? scaled1 - scaled2 : scaled1 + scaled2, mo, ro, roundo, signo) +
        output_offset;
    tfl_binary_store(out, i, tfl_clamp(raw, act_min, act_max), wide);
    o1 += step1;
    o2 += step2;
  }
}

/* The prepares of ADD and SUB: tfl_broadcast_prepare_wide, then the fused activation and
 * multipliers; fill node->data with the tfl_addsub_params. With int16 tensors (16x8) they
 * select the int16 eval (in tfl_kernel_broadcast.c) for the node: node->kernel is switched to
 * an int16 kernel object with the same code and name. */
TFL_MUST_CHECK tfl_status tfl_add_prepare(tfl_context *ctx, tfl_node *node);
TFL_MUST_CHECK tfl_status tfl_sub_prepare(tfl_context *ctx, tfl_node *node);

#endif
