/* LOGISTIC, int8 (TFLM reference arithmetic).
 *
 * The output must be scale 1/256, zero point -128. Inputs with |x - zero_point| >= the range
 * radius saturate to -128 / 127; the others are rescaled to Q4.27 fixed point (real
 * multiplier input_scale * 2^27, split into a Q31 value and a left shift) and go through the
 * fixed-point logistic of the gemmlowp library that TFLM uses:
 *   logistic(a) = 1 / (1 + exp(-|a|)) for a > 0, 1 - that for a < 0, 1/2 for a = 0,
 * with exp on negative values computed as a Taylor polynomial around -1/8 on (-1/4, 0] times
 * exp(-2^k) for each set bit k of the rest, and 1 / (1 + x) by three Newton-Raphson steps from
 * 48/17 - 32/17 * d. The Q0.31 result is rounded right by 23 bits and offset by -128. All
 * integer; prepare uses double only to split the multiplier. */
#include "tfl_kernel.h"

#include <limits.h>

typedef struct {
  int32_t input_zero_point;
  int32_t input_range_radius;
  int32_t input_multiplier;
  int32_t input_left_shift;
} tfl_logistic_data;
TFL_OP_DATA_FITS(tfl_logistic_data);

/* ---- fixed point (raw int32 values; Qm.n named in comments) ------------------------------ */

static inline int32_t logistic_wrap_add(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t logistic_wrap_sub(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a - (uint32_t)b);
}
/* Qa * Qb -> Q(a+b): saturating rounding doubling high multiply. Written as
 * floor((a * b + 2^30) / 2^31), which equals the reference's truncating division of the product
 * plus a -/+ 2^30 nudge (ties toward +infinity either way); only INT32_MIN^2 saturates. */
static inline int32_t logistic_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}
/* x / 2^exponent (1 <= exponent <= 31), rounded half away from zero. */
static inline int32_t logistic_shr(int32_t x, int32_t exponent) {
  const int64_t biased = (int64_t)x + ((int64_t)1 << (exponent - 1)) - (x < 0 ? 1 : 0);
  return (int32_t)(biased >> exponent);
}
/* x * 2^exponent (exponent >= 1), saturating. */
static int32_t logistic_saturating_shl(int32_t x, int32_t exponent) {
  const int32_t threshold = (int32_t)((1U << (31 - exponent)) - 1U);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return x * (1 << exponent);
}
/* (a + b) / 2 rounded half away from zero. */
static int32_t logistic_rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0), a and result Q0.31. */
static int32_t logistic_exp_quarter(int32_t a) {
  const int32_t exp_minus_one_eighth = 1895147668; /* round(exp(-1/8) * 2^31) */
  const int32_t one_third = 715827883;             /* round(2^31 / 3) */
  const int32_t x = logistic_wrap_add(a, 1 << 28); /* a + 1/8 */
  const int32_t x2 = logistic_mul(x, x);
  const int32_t x3 = logistic_mul(x2, x);
  const int32_t x4 = logistic_mul(x2, x2);
  const int32_t x4_over_4 = logistic_shr(x4, 2);
  const int32_t poly = logistic_shr(
      logistic_wrap_add(logistic_mul(logistic_wrap_add(x4_over_4, x3), one_third), x2), 1);
  return logistic_wrap_add(exp_minus_one_eighth,
                           logistic_mul(exp_minus_one_eighth, logistic_wrap_add(x, poly)));
}

/* exp(a) for a <= 0 given with `integer_bits` integer bits; result Q0.31. */
static int32_t logistic_exp_negative(int32_t a, int32_t integer_bits) {
  /* round(exp(-2^k) * 2^31) for k = -2 .. 4 */
  static const int32_t exp_pow2[7] = {1672461947, 1302514674, 790015084, 290630308,
                                      39332535,   720401,     242};
  const int32_t fractional_bits = 31 - integer_bits;
  const int32_t quarter = 1 << (fractional_bits - 2);
  const int32_t in_quarter = logistic_wrap_sub(a & (quarter - 1), quarter); /* [-1/4, 0) */
  const int32_t rest = logistic_wrap_sub(in_quarter, a);
  int32_t result = logistic_exp_quarter(logistic_saturating_shl(in_quarter, integer_bits));
  int32_t k;
  for (k = -2; k <= 4; ++k) {
    if (integer_bits > k && (rest & (1 << (fractional_bits + k))) != 0)
      result = logistic_mul(result, exp_pow2[k + 2]);
  }
  /* (integer_bits > 5 would also need the clamp to 0 below -32; 4 here) */
  return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1], a and result Q0.31. */
static int32_t logistic_one_over_one_plus(int32_t a) {
  const int32_t c48_17 = 1515870810;      /* round(48/17 * 2^29), Q2.29 */
  const int32_t c_neg32_17 = -1010580540; /* round(-32/17 * 2^29), Q2.29 */
  const int32_t half_denominator = logistic_rounding_half_sum(a, INT32_MAX);
  int32_t x = logistic_wrap_add(c48_17, logistic_mul(half_denominator, c_neg32_17));
  int32_t i;
  for (i = 0; i < 3; ++i) {
    const int32_t one_minus = logistic_wrap_sub(1 << 29, logistic_mul(half_denominator, x));
    x = logistic_wrap_add(x, logistic_saturating_shl(logistic_mul(x, one_minus), 2));
  }
  return logistic_saturating_shl(x, 1); /* x / 2 in Q1.30 read as Q0.31 */
}

/* logistic(a), a Q4.27, result Q0.31. */
static int32_t logistic_q4(int32_t a) {
  int32_t positive;
  if (a == 0) return 1 << 30;
  positive = logistic_one_over_one_plus(logistic_exp_negative(a > 0 ? -a : a, 4));
  return a > 0 ? positive : logistic_wrap_sub(INT32_MAX, positive);
}

/* ---- kernel ------------------------------------------------------------------------------ */

static tfl_status logistic_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_logistic_data d;
  int32_t shift;
  double real;
  if (in == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->quant_count < 1 || out->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (out->zero_point != -128 || out->scale != 1.0f / 256.0f) return TFL_ERR_BAD_QUANTIZATION;
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
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

/* Output for one input value x (stored int8). */
static int8_t logistic_value(const tfl_logistic_data *d, int32_t x) {
  const int32_t v = x - d->input_zero_point;
  int32_t q4;
  if (v <= -d->input_range_radius) return -128;
  if (v >= d->input_range_radius) return 127;
  q4 = tfl_multiply_by_quantized_multiplier(v, d->input_multiplier, d->input_left_shift);
  return (int8_t)tfl_clamp(logistic_shr(logistic_q4(q4), 23) - 128, -128, 127);
}

static tfl_status logistic_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = (const int8_t *)in->data;
  int8_t *y = (int8_t *)out->data;
  const int32_t n = tfl_tensor_elements(out);
  tfl_logistic_data d;
  int32_t i;
  memcpy(&d, node->data, sizeof d);
  if (n > 256) {
    /* more elements than int8 values: the 256 possible outputs once, then a table lookup */
    int8_t table[256];
    for (i = 0; i < 256; ++i) table[i] = logistic_value(&d, i - 128);
    for (i = 0; i < n; ++i) y[i] = table[x[i] + 128];
  } else {
    for (i = 0; i < n; ++i) y[i] = logistic_value(&d, x[i]);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(logistic, 14, "LOGISTIC", logistic_prepare, logistic_eval);
