/* Shared by the binary elementwise kernels (SUB, MUL, MAXIMUM, MINIMUM; ADD can adopt it):
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

/* TFL_OK when out's shape is the broadcast of a's and b's shapes, else TFL_ERR_BAD_SHAPE. */
TFL_MUST_CHECK tfl_status tfl_broadcast_check(const tfl_tensor *a, const tfl_tensor *b,
                                              const tfl_tensor *out);

/* Runs `row` over the whole int8 output in order; nothing for an empty output. The shapes
 * were checked by tfl_broadcast_check in prepare. */
void tfl_broadcast_run(const tfl_tensor *in1, const tfl_tensor *in2, const tfl_tensor *out,
                       tfl_broadcast_row row, const void *params);

/* The prepare of kernels without parameters (MAXIMUM, MINIMUM): both inputs and the output
 * present and int8, shapes that broadcast. */
TFL_MUST_CHECK tfl_status tfl_broadcast_prepare_int8(tfl_context *ctx, tfl_node *node);

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

/* ADD and SUB (int8): TFLite's quantization of both inputs to a common scale (twice the larger
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
} tfl_addsub_params;

/* Checks the int8 types and scales of the inputs and output (not their shapes), reads the fused
 * activation and fills *params. */
TFL_MUST_CHECK tfl_status tfl_addsub_prepare(tfl_context *ctx, const tfl_node *node,
                                             const tfl_tensor *in1, const tfl_tensor *in2,
                                             const tfl_tensor *out, tfl_addsub_params *params);

#endif
