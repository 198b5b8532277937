/* TANH, int8 and 16x8 int16 (TFLM reference arithmetic; int16 in tfl_kernel_lut16.c).
 *
 * The result is written in scale 1/128, zero point 0 whatever the output tensor says (TFLM does
 * not check; TFLite's converter always gives that quantization). Inputs with |x - zero_point|
 * >= the range radius saturate to -128 / 127; the others are rescaled to Q4.27 fixed point and
 * go through the fixed-point tanh of the gemmlowp library that TFLM uses
 * (tfl_kernel_fixedpoint.h):
 *   tanh(a) = (1 - e) / (1 + e) with e = exp(-2|a|), negated for a < 0, 0 for a = 0,
 * where the raw Q4.27 value read as Q5.26 is 2a. The Q0.31 result is rounded right by 24 bits.
 * All integer; prepare uses double only to split the multiplier. */
#include "tfl_kernel.h"
#include "tfl_kernel_fixedpoint.h"
#include "tfl_kernel_lut16.h"

/* tanh(a), a Q4.27, result Q0.31. */
static int32_t tanh_q4(int32_t a) {
  int32_t x, t;
  if (a == 0) return 0;
  /* x ~ 1 / (1 + e) in Q2.29: 2x - 1 = (1 - e) / (1 + e), back to Q0.31 */
  x = tfl_fx_one_over_one_plus_exp_q5(a < 0 ? a : -a);
  t = tfl_fx_saturating_shl(tfl_fx_wrap_sub(x, 1 << 29), 2);
  return a < 0 ? -t : t;
}

/* Output for an in-range input given as its Q4.27 value. */
static int8_t tanh_output(int32_t q4) {
  return (int8_t)tfl_clamp(tfl_fx_shr(tanh_q4(q4), 24), -128, 127);
}

TFL_DEFINE_LOGISTIC_TANH(tanh, 28, "TANH", TFL_LUT16_TANH, tanh_output);
