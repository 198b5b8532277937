/* 1 / sqrt(x) of a positive int32 as a Q31 multiplier and a shift (RSQRT, L2_NORMALIZATION),
 * the integer arithmetic of TFLM's reference kernels. */
#ifndef TFL_KERNEL_INVSQRT_H
#define TFL_KERNEL_INVSQRT_H

#include "tfl_kernel.h"

/* x >= 0. *multiplier * 2^*shift approximates 1 / sqrt(x) (x <= 1 gives INT32_MAX, shift 0):
 * x is normalised by an even left shift into [2^27, 2^29) (divided by 4 while >= 2^29), read
 * as a fixed-point number with 3 integer bits, halved; five Newton-Raphson steps
 * y = 1.5 y - (x / 2) y^3 from y = 1 in gemmlowp-style Q3 arithmetic (saturating rounding
 * doubling high multiplies, saturating rescales), then times sqrt(2) / 2. A negative exponent
 * is folded into the multiplier by a left shift. *shift is a left-shift exponent (the
 * convention of tfl_multiply_by_quantized_multiplier). */
void tfl_inv_sqrt_multiplier(int32_t x, int32_t *multiplier, int32_t *shift);

/* Leading zero bits of v (32 for 0); DIV's reciprocal uses it too. */
int32_t tfl_leading_zeros(uint32_t v);

/* sqrtf(v) for a positive normal float, correctly rounded (round to nearest even) as IEEE
 * sqrtf is, in integer arithmetic (no libm); 0 for anything else (zero, negative, subnormal,
 * infinite or NaN). Used in prepare only. */
float tfl_sqrtf(float v);

#endif
