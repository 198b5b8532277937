/* Fixed-point exp and reciprocal and the Q4.27 input path of LOGISTIC and TANH (see the
 * header). exp on negative values is a Taylor polynomial around -1/8 on (-1/4, 0] times
 * exp(-2^k) for each set bit k of the rest; 1 / (1 + a) is three Newton-Raphson steps from
 * 48/17 - 32/17 * d. All integer; prepare uses double only to split the multiplier. */
#include "tfl_kernel_fixedpoint.h"

/* Qa * Qb -> Q(a+b): saturating rounding doubling high multiply. Written as
 * floor((a * b + 2^30) / 2^31), which equals the reference's truncating division of the product
 * plus a -/+ 2^30 nudge (ties toward +infinity either way); only INT32_MIN^2 saturates. */
static inline int32_t fx_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}
/* (a + b) / 2 rounded half away from zero. */
static int32_t fx_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0), a and result Q0.31. */
static int32_t fx_exp_quarter(int32_t a) {
  const int32_t exp_minus_one_eighth = 1895147668; /* round(exp(-1/8) * 2^31) */
  const int32_t one_third = 715827883;             /* round(2^31 / 3) */
  const int32_t x = tfl_fx_wrap_add(a, 1 << 28);   /* a + 1/8 */
  const int32_t x2 = fx_mul(x, x);
  const int32_t x3 = fx_mul(x2, x);
  const int32_t x4 = fx_mul(x2, x2);
  const int32_t x4_over_4 = tfl_fx_shr(x4, 2);
  const int32_t poly =
      tfl_fx_shr(tfl_fx_wrap_add(fx_mul(tfl_fx_wrap_add(x4_over_4, x3), one_third), x2), 1);
  return tfl_fx_wrap_add(exp_minus_one_eighth,
                         fx_mul(exp_minus_one_eighth, tfl_fx_wrap_add(x, poly)));
}

#if defined(__GNUC__)
#define FX_INLINE static inline __attribute__((always_inline))
#else
#define FX_INLINE static inline
#endif

/* exp(a) for a <= 0 given with `integer_bits` integer bits; result Q0.31. Inlined into one
 * function per integer_bits value so that the constant folds into the shifts and the loop. */
FX_INLINE int32_t fx_exp_negative(int32_t a, int32_t integer_bits) {
  /* round(exp(-2^k) * 2^31) for k = -2 .. 4 */
  static const int32_t exp_pow2[7] = {1672461947, 1302514674, 790015084, 290630308,
                                      39332535,   720401,     242};
  const int32_t fractional_bits = 31 - integer_bits;
  const int32_t quarter = 1 << (fractional_bits - 2);
  const int32_t in_quarter = tfl_fx_wrap_sub(a & (quarter - 1), quarter); /* [-1/4, 0) */
  const int32_t rest = tfl_fx_wrap_sub(in_quarter, a);
  int32_t result = fx_exp_quarter(tfl_fx_saturating_shl(in_quarter, integer_bits));
  int32_t k;
  for (k = -2; k <= 4; ++k) {
    if (integer_bits > k && (rest & (1 << (fractional_bits + k))) != 0)
      result = fx_mul(result, exp_pow2[k + 2]);
  }
  /* (integer_bits > 5 would also need the clamp to 0 below -32; 4 and 5 are used) */
  return a == 0 ? INT32_MAX : result;
}

/* About 1 / (1 + a) in Q2.29 for a in [0, 1] given Q0.31. */
FX_INLINE int32_t fx_one_over_one_plus(int32_t a) {
  const int32_t c48_17 = 1515870810;      /* round(48/17 * 2^29), Q2.29 */
  const int32_t c_neg32_17 = -1010580540; /* round(-32/17 * 2^29), Q2.29 */
  const int32_t half_denominator = fx_rounding_half_sum(a, INT32_MAX);
  int32_t x = tfl_fx_wrap_add(c48_17, fx_mul(half_denominator, c_neg32_17));
  int32_t i;
  for (i = 0; i < 3; ++i) {
    const int32_t one_minus = tfl_fx_wrap_sub(1 << 29, fx_mul(half_denominator, x));
    x = tfl_fx_wrap_add(x, tfl_fx_saturating_shl(fx_mul(x, one_minus), 2));
  }
  return x;
}

int32_t tfl_fx_one_over_one_plus(int32_t a) { return fx_one_over_one_plus(a); }

int32_t tfl_fx_one_over_one_plus_exp_q4(int32_t a) {
  return fx_one_over_one_plus(fx_exp_negative(a, 4));
}
int32_t tfl_fx_one_over_one_plus_exp_q5(int32_t a) {
  return fx_one_over_one_plus(fx_exp_negative(a, 5));
}

int32_t tfl_fx_exp_negative_q5(int32_t a) { return fx_exp_negative(a, 5); }

/* Saturating x * 2^exponent for exponent >= 0 (0: x unchanged). */
static int32_t fx_shl_or_same(int32_t x, int32_t exponent) {
  return exponent == 0 ? x : tfl_fx_saturating_shl(x, exponent);
}

/* a + b saturated to int32. */
static int32_t fx_saturating_add(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  return sum > INT32_MAX ? INT32_MAX : (sum < INT32_MIN ? INT32_MIN : (int32_t)sum);
}

int32_t tfl_fx_log_q12_to_q5(int32_t x) {
  /* Q0.31 constants: round(c * 2^31) */
  const int32_t log_2 = 1488522236;          /* ln 2 */
  const int32_t sqrt_sqrt_half = 1805811301; /* 2^-1/4 */
  const int32_t sqrt_half = 1518500250;      /* 2^-1/2 */
  const int32_t alpha_n = 117049297;         /* 11/240 * 2^1/4 */
  const int32_t alpha_d = 127690142;         /* 1/20 * 2^1/4 */
  const int32_t alpha_i = 1057819769;        /* 2 / 2^1/4 - 2^1/4 */
  const int32_t alpha_f = 638450708;         /* 1/4 * 2^1/4 */
  enum { IN_BITS = 12, ACC_BITS = 6 };       /* Q12.19 in, Q6.25 accumulator */
  const int32_t quarter_acc = 1 << (29 - ACC_BITS);
  /* x = 2^e * m with m in [1/sqrt2, sqrt2) taken two ways: m from the leading bit (a), or
   * after a multiplication by sqrt(1/2) (b); the one nearer 1 wins (smaller r, larger e) */
  const int32_t headroom_a = tfl_fx_clz((uint32_t)x);
  const int32_t r_a = fx_shl_or_same(fx_mul(fx_shl_or_same(x, headroom_a - 1), sqrt_half), 1);
  const int32_t e_a = fx_saturating_add(fx_shl_or_same(IN_BITS - headroom_a, 31 - ACC_BITS),
                                        quarter_acc); /* e + 1/4 */
  const int32_t headroom_b = tfl_fx_clz((uint32_t)fx_mul(x, sqrt_half)) - 1;
  const int32_t r_b = fx_shl_or_same(x, headroom_b);
  const int64_t e_b64 =
      (int64_t)fx_shl_or_same(IN_BITS - headroom_b, 31 - ACC_BITS) - (int64_t)quarter_acc;
  const int32_t e_b = e_b64 < INT32_MIN ? INT32_MIN : (int32_t)e_b64; /* e - 1/4 */
  const int32_t r = r_a < r_b ? r_a : r_b;
  const int32_t e = e_a > e_b ? e_a : e_b;
  /* ln(r) around 2^-1/4 by a rational approximation in q = 2 (r - 2^-1/4) */
  const int32_t p = fx_rounding_half_sum(r, sqrt_sqrt_half);
  const int32_t q =
      tfl_fx_wrap_add(tfl_fx_wrap_sub(r, sqrt_sqrt_half), tfl_fx_wrap_sub(r, sqrt_sqrt_half));
  const int32_t q2 = fx_mul(q, q);
  const int32_t num = tfl_fx_wrap_add(fx_mul(q, r), fx_mul(fx_mul(q, q2), alpha_n));
  const int32_t denom_minus_one =
      tfl_fx_wrap_add(fx_mul(p, tfl_fx_wrap_add(tfl_fx_wrap_add(alpha_i, q), fx_mul(alpha_d, q2))),
                      fx_mul(alpha_f, q));
  const int32_t recip = tfl_fx_saturating_shl(fx_one_over_one_plus(denom_minus_one), 1); /* Q0.31 */
  const int32_t num_acc = tfl_rounding_divide_by_pot(num, ACC_BITS);
  const int32_t sum = tfl_fx_wrap_add(fx_mul(e, log_2), fx_mul(num_acc, recip)); /* Q6.25 */
  return tfl_fx_saturating_shl(sum, 1);                                          /* Q5.26 */
}

tfl_status tfl_q4_input_prepare(const tfl_tensor *in, const tfl_tensor *out, tfl_node *node) {
  tfl_q4_input d;
  int32_t shift;
  double real;
  if (!(in->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (tfl_tensor_elements(in) != tfl_tensor_elements(out)) return TFL_ERR_BAD_SHAPE;
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  /* input_scale * 2^27 is exact in double: its Q31 mantissa needs no rounding beyond frexp's. */
  real = (double)in->scale * (double)(1L << 27);
  tfl_quantize_multiplier(real, &d.input_multiplier, &shift);
  if (shift < 0) return TFL_ERR_BAD_QUANTIZATION; /* input scale below 2^-28 */
  d.input_left_shift = shift;
  /* floor(15 * 2^27 / 2^shift): the largest |x - zero_point| that stays inside Q4.27 */
  if (shift <= 27)
    d.input_range_radius = 15 * (1 << (27 - shift));
  else
    d.input_range_radius = shift < 31 ? 15 >> (shift - 27) : 0;
  return tfl_node_set_data(node, &d, sizeof d);
}

/* Output for one input value x (stored int8). */
static int8_t q4_value(const tfl_q4_input *d, tfl_q4_output f, int32_t x) {
  const int32_t v = x - d->input_zero_point;
  if (v <= -d->input_range_radius) return -128;
  if (v >= d->input_range_radius) return 127;
  return f(tfl_multiply_by_quantized_multiplier(v, d->input_multiplier, d->input_left_shift));
}

void tfl_q4_map(const tfl_q4_input *params, tfl_q4_output f, const int8_t *x, int8_t *y,
                int32_t n) {
  const tfl_q4_input local = *params; /* stores through int8_t* may alias *params */
  const tfl_q4_input *d = &local;
  int32_t i;
  if (n > 256) {
    /* more elements than int8 values: the 256 possible outputs once, then a table lookup */
    int8_t table[256];
    for (i = 0; i < 256; ++i) table[i] = q4_value(d, f, i - 128);
    for (i = 0; i < n; ++i) y[i] = table[x[i] + 128];
  } else {
    for (i = 0; i < n; ++i) y[i] = q4_value(d, f, x[i]);
  }
}

tfl_status tfl_q4_eval(tfl_context *ctx, const tfl_node *node, tfl_q4_output f) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_q4_input d;
  memcpy(&d, node->data, sizeof d);
  tfl_q4_map(&d, f, (const int8_t *)in->data, (int8_t *)out->data, tfl_tensor_elements(out));
  return TFL_OK;
}
