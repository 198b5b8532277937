/* LOGISTIC, int8 and 16x8 int16 (TFLM reference arithmetic; int16 in tfl_kernel_lut16.c).
 *
 * The output must be scale 1/256, zero point -128. Inputs with |x - zero_point| >= the range
 * radius saturate to -128 / 127; the others are rescaled to Q4.27 fixed point and go through
 * the fixed-point logistic of the gemmlowp library that TFLM uses (tfl_kernel_fixedpoint.h):
 *   logistic(a) = 1 / (1 + exp(-|a|)) for a > 0, 1 - that for a < 0, 1/2 for a = 0.
 * The Q0.31 result is rounded right by 23 bits and offset by -128. All integer; prepare uses
 * double only to split the multiplier. */
#include "tfl_kernel.h"
#include "tfl_kernel_fixedpoint.h"
#include "tfl_kernel_lut16.h"

/* logistic(a), a Q4.27, result Q0.31. */
static int32_t logistic_q4(int32_t a) {
  int32_t positive;
  if (a == 0) return 1 << 30;
  /* x ~ 1 / (1 + exp(-|a|)) in Q2.29: x / 2 in Q1.30 read as Q0.31 */
  positive = tfl_fx_saturating_shl(tfl_fx_one_over_one_plus_exp_q4(a > 0 ? -a : a), 1);
  return a > 0 ? positive : tfl_fx_wrap_sub(INT32_MAX, positive);
}

/* Output for an in-range input given as its Q4.27 value. */
static int8_t logistic_output(int32_t q4) {
  return (int8_t)tfl_clamp(tfl_fx_shr(logistic_q4(q4), 23) - 128, -128, 127);
}

TFL_DEFINE_LOGISTIC_TANH(logistic, 14, "LOGISTIC", TFL_LUT16_LOGISTIC, logistic_output);
