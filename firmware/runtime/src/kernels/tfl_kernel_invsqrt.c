/* 1 / sqrt(x) in fixed point (see the header). */
#include "tfl_kernel_invsqrt.h"

/* raw * 2^exponent, saturated to int32 (exponent >= 0). */
static int32_t invsqrt_saturating_shl(int32_t raw, int32_t exponent) {
  const int64_t v = (int64_t)raw * ((int64_t)1 << exponent);
  return v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : (int32_t)v);
}

int32_t tfl_leading_zeros(uint32_t v) {
  int32_t n = 0;
  if (v == 0) return 32;
  while (!(v & 0x80000000u)) {
    v <<= 1;
    ++n;
  }
  return n;
}

void tfl_inv_sqrt_multiplier(int32_t x, int32_t *multiplier, int32_t *shift) {
  const int32_t one_q3 = 1 << 28;                        /* 1.0 with 3 integer bits */
  const int32_t three_halves_q3 = (1 << 28) + (1 << 27); /* 1.5 */
  const int32_t half_sqrt2_q0 = 1518500250;              /* sqrt(2) / 2 in Q0.31 */
  int32_t right = 11;                                    /* a right-shift exponent until the end */
  int32_t pairs;
  int32_t half_x;
  int32_t y = one_q3;
  int32_t i;
  if (x <= 1) {
    *multiplier = INT32_MAX;
    *shift = 0;
    return;
  }
  while (x >= (1 << 29)) {
    x /= 4;
    ++right;
  }
  pairs = (tfl_leading_zeros((uint32_t)x) - 1) / 2 - 1;
  right -= pairs;
  x = (int32_t)((uint32_t)x << (2 * pairs));
  half_x = tfl_rounding_divide_by_pot(x >> 1, 1);
  for (i = 0; i < 5; ++i) {
    /* y^3 is Q9 (two Q3 products), rescaled to Q3; 1.5 y and (x/2) y^3 are Q6 */
    const int32_t y2 = tfl_saturating_rounding_doubling_high_mul(y, y);
    const int32_t y3 = invsqrt_saturating_shl(tfl_saturating_rounding_doubling_high_mul(y2, y), 6);
    const int32_t a = tfl_saturating_rounding_doubling_high_mul(three_halves_q3, y);
    const int32_t b = tfl_saturating_rounding_doubling_high_mul(half_x, y3);
    y = invsqrt_saturating_shl((int32_t)((uint32_t)a - (uint32_t)b), 3);
  }
  y = tfl_saturating_rounding_doubling_high_mul(y, half_sqrt2_q0);
  if (right < 0) {
    y = (int32_t)((uint32_t)y << -right);
    right = 0;
  }
  *multiplier = y;
  *shift = -right;
}

/* floor(sqrt(n)), bit by bit. */
static uint64_t invsqrt_isqrt64(uint64_t n) {
  uint64_t root = 0;
  uint64_t bit = (uint64_t)1 << 62;
  while (bit > n) bit >>= 2;
  while (bit != 0) {
    if (n >= root + bit) {
      n -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  return root;
}

float tfl_sqrtf(float v) {
  uint32_t bits;
  uint64_t mantissa;
  uint64_t n;
  uint64_t q;
  uint64_t r;
  int32_t e;
  int32_t k;
  int32_t exponent;
  double result;
  memcpy(&bits, &v, sizeof bits);
  if ((bits >> 31) != 0 || ((bits >> 23) & 0xFFu) == 0 || ((bits >> 23) & 0xFFu) == 0xFFu)
    return 0.0f;
  mantissa = (uint64_t)((bits & 0x7FFFFFu) | 0x800000u); /* v = mantissa * 2^e */
  e = (int32_t)((bits >> 23) & 0xFFu) - 127 - 23;
  k = (e % 2 == 0) ? 26 : 25; /* e - k even; sqrt(mantissa * 2^k) has exactly 25 bits */
  n = mantissa << k;
  q = invsqrt_isqrt64(n);
  /* 24 bits, rounded to nearest even on the 25th bit and the remainder */
  r = q >> 1;
  if ((q & 1u) && (n != q * q || (r & 1u))) ++r;
  exponent = 1 + (e - k) / 2; /* sqrt(v) = r * 2^exponent */
  result = (double)r;
  for (; exponent > 0; --exponent) result *= 2.0;
  for (; exponent < 0; ++exponent) result *= 0.5;
  return (float)result;
}
