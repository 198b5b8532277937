/* SOFTMAX, int8 input -> int8 output (scale 1/256, zero point -128) or int16 output (scale 1/65536,
 * zero point -32768) along the last dimension, computed entirely in fixed point as TFLite's
 * reference integer softmax is defined:
 *   - diff = x - max(row), rescaled by beta * input_scale into Q5.26 (multiplier >= 1);
 *   - exp(diff) for diff <= 0 in Q0.31: exact exp on [-1/4, 0) by a Taylor polynomial around
 *     -1/8, times exp(-2^k) factors for the remaining whole quarters (barrel shifter);
 *   - the sum of exps in Q12.19, its reciprocal by Newton-Raphson (x in [0, 1) form);
 *   - out = exp * reciprocal >> (bits over unit + 31 - output bits), shifted to the type minimum.
 * Elements with diff below diff_min (the Q5.26 range) give exactly the type minimum. */
#include "tfl_kernel.h"
#include "tfl_kernel_fixedpoint.h"
#include "tfl_kernel_softmax16.h"

typedef struct {
  int32_t input_multiplier;
  int32_t input_left_shift;
  int32_t diff_min;
  int32_t output_bits; /* 8 or 16: the output type */
  int32_t depth;
  int32_t rows;
} softmax_data;
TFL_OP_DATA_FITS(softmax_data);

enum { SCALED_DIFF_INTEGER_BITS = 5, ACCUM_INTEGER_BITS = 12 };

static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static int32_t fx_mul(int32_t a, int32_t b) {
  return tfl_saturating_rounding_doubling_high_mul(a, b);
}

/* x * 2^e with saturation (e > 0) or rounding (e < 0). */
static int32_t fx_mul_pot(int32_t x, int32_t e) {
  if (e < 0) return tfl_rounding_divide_by_pot(x, -e);
  if (e == 0) return x;
  const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - e)) - 1u);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << e);
}

/* exp(a) for a in [-1/4, 0), a and result in Q0.31. */
static int32_t exp_quarter(int32_t a) {
  const int32_t exp_minus_one_eighth = 1895147668;
  const int32_t one_third = 715827883;
  const int32_t x = wrap_add(a, 1 << 28); /* a + 1/8 */
  const int32_t x2 = fx_mul(x, x);
  const int32_t x3 = fx_mul(x2, x);
  const int32_t x4 = fx_mul(x2, x2);
  const int32_t x4_over_4 = fx_mul_pot(x4, -2);
  const int32_t poly = fx_mul_pot(wrap_add(fx_mul(wrap_add(x4_over_4, x3), one_third), x2), -1);
  return wrap_add(exp_minus_one_eighth, fx_mul(exp_minus_one_eighth, wrap_add(x, poly)));
}

/* exp(a) for a <= 0, a in Q5.26, result in Q0.31. */
static int32_t exp_negative(int32_t a) {
  enum { FRAC = 31 - SCALED_DIFF_INTEGER_BITS };
  /* exp(-2^k) in Q0.31 for k = -2 .. 4 */
  static const int32_t factors[7] = {1672461947, 1302514674, 790015084, 290630308,
                                     39332535,   720401,     242};
  const int32_t one_quarter = 1 << (FRAC - 2);
  const int32_t a_mod_quarter_minus_quarter = wrap_sub(a & (one_quarter - 1), one_quarter);
  int32_t result = exp_quarter(fx_mul_pot(a_mod_quarter_minus_quarter, SCALED_DIFF_INTEGER_BITS));
  const int32_t remainder = wrap_sub(a_mod_quarter_minus_quarter, a);
  for (int32_t k = 0; k < 7; ++k) {
    if (remainder & (int32_t)((uint32_t)1 << (FRAC - 2 + k))) result = fx_mul(result, factors[k]);
  }
  return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out. */
static int32_t reciprocal_one_plus(int32_t a) {
  const int64_t sum = (int64_t)a + INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int32_t c48_17 = 1515870810;      /* 48/17 in Q2.29 */
  const int32_t c_neg32_17 = -1010580540; /* -32/17 in Q2.29 */
  int32_t x = wrap_add(c48_17, fx_mul(half_denominator, c_neg32_17));
  for (int i = 0; i < 3; ++i) {
    const int32_t one_minus = wrap_sub(1 << 29, fx_mul(half_denominator, x));
    x = wrap_add(x, fx_mul_pot(fx_mul(x, one_minus), 2));
  }
  return fx_mul_pot(x, 1);
}

static tfl_status softmax_eval_int16(tfl_context *ctx, tfl_node *node);
TFL_DEFINE_KERNEL16(softmax_int16, 25, "SOFTMAX", softmax_prepare, softmax_eval_int16);

static tfl_status softmax_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  softmax_data *d = (softmax_data *)node->data;
  if (in == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 && !TFL_IS_INT16(in)) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->dims_count < 1 || !tfl_same_shape(in, out)) return TFL_ERR_BAD_SHAPE;
  if (in->quant_count != 1 || out->quant_count != 1 || !(in->scale > 0.0f)) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  d->depth = in->dims[in->dims_count - 1];
  d->rows = d->depth > 0 ? tfl_tensor_elements(in) / d->depth : 0;
  float beta;
  TFL_ENSURE(tfl_option_f32(ctx, node, 0, 0.0f, &beta));
  if (TFL_IS_INT16(in)) {
    /* 16x8: int16 -> int16, zero points 0, output scale 1/32768 (TFLM's tolerance 0.1%); the
     * row sum of Q0.15 exps stays below 2^31 for rows up to 65536 */
    if (out->type != TFL_TYPE_INT16) return TFL_ERR_UNSUPPORTED_TYPE;
    if (in->zero_point != 0 || out->zero_point != 0) return TFL_ERR_BAD_QUANTIZATION;
    if (out->scale < 0.999f / 32768.0f || out->scale > 1.001f / 32768.0f) {
      return TFL_ERR_BAD_QUANTIZATION;
    }
    if (d->depth > 65536) return TFL_ERR_BAD_SHAPE;
    /* differences rescaled so that [-65535, 0] spans exp's table range [-10, 0] */
    tfl_quantize_multiplier((double)in->scale * (double)beta / (10.0 / 65535.0),
                            &d->input_multiplier, &d->input_left_shift);
    if (d->input_left_shift > 30) return TFL_ERR_UNSUPPORTED_OPTION;
    node->kernel = &softmax_int16;
    return TFL_OK;
  }
  if (out->type == TFL_TYPE_INT8) {
    d->output_bits = 8;
    if (out->zero_point != -128) return TFL_ERR_BAD_QUANTIZATION;
    if (out->scale < 0.999f / 256.0f || out->scale > 1.001f / 256.0f)
      return TFL_ERR_BAD_QUANTIZATION;
  } else if (out->type == TFL_TYPE_INT16) {
    /* int8 in, int16 out: [0, 1) over the whole int16 range (TFLM's zero point and tolerance) */
    d->output_bits = 16;
    if (out->zero_point != -32768) return TFL_ERR_BAD_QUANTIZATION;
    if (out->scale < 0.999f / 65536.0f || out->scale > 1.001f / 65536.0f)
      return TFL_ERR_BAD_QUANTIZATION;
  } else {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  double real =
      (double)beta * (double)in->scale * (double)((int64_t)1 << (31 - SCALED_DIFF_INTEGER_BITS));
  if (real > 2147483647.0) real = 2147483647.0;
  if (!(real > 1.0)) return TFL_ERR_UNSUPPORTED_OPTION;
  tfl_quantize_multiplier(real, &d->input_multiplier, &d->input_left_shift);
  if (d->input_left_shift < 0 || d->input_left_shift > 30) return TFL_ERR_UNSUPPORTED_OPTION;
  /* largest |diff| whose rescaled value still fits Q5.26 */
  const double radius = (double)((1 << SCALED_DIFF_INTEGER_BITS) - 1) *
                        (double)((int64_t)1 << (31 - SCALED_DIFF_INTEGER_BITS)) /
                        (double)((int64_t)1 << d->input_left_shift);
  d->diff_min = -(int32_t)radius; /* radius >= 0: truncation is floor */
  return TFL_OK;
}

static tfl_status softmax_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const softmax_data *d = (const softmax_data *)node->data;
  const int8_t *x = (const int8_t *)in->data;
  const int32_t out_max = d->output_bits == 16 ? 32767 : 127; /* int16 or int8 output */
  const int32_t out_min = -out_max - 1;
  for (int32_t r = 0; r < d->rows; ++r) {
    const int8_t *row = x + r * d->depth;
    int32_t max_in_row = -128;
    for (int32_t c = 0; c < d->depth; ++c) max_in_row = tfl_max(max_in_row, row[c]);
    int32_t sum_of_exps = 0; /* Q12.19 */
    for (int32_t c = 0; c < d->depth; ++c) {
      const int32_t diff = row[c] - max_in_row;
      if (diff >= d->diff_min) {
        const int32_t scaled =
            fx_mul((int32_t)((uint32_t)diff << d->input_left_shift), d->input_multiplier);
        sum_of_exps = wrap_add(sum_of_exps, fx_mul_pot(exp_negative(scaled), -ACCUM_INTEGER_BITS));
      }
    }
    const int32_t headroom_plus_one = tfl_fx_clz((uint32_t)sum_of_exps);
    const int32_t bits_over_unit = ACCUM_INTEGER_BITS - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
    const int32_t shifted_scale = reciprocal_one_plus(shifted_sum_minus_one);
    for (int32_t c = 0; c < d->depth; ++c) {
      const int32_t diff = row[c] - max_in_row;
      int32_t v = out_min;
      if (diff >= d->diff_min) {
        const int32_t scaled =
            fx_mul((int32_t)((uint32_t)diff << d->input_left_shift), d->input_multiplier);
        const int32_t e = exp_negative(scaled);
        v = tfl_rounding_divide_by_pot(fx_mul(shifted_scale, e),
                                       bits_over_unit + 31 - d->output_bits) +
            out_min;
        v = tfl_clamp(v, out_min, out_max);
      }
      if (d->output_bits == 16) {
        ((int16_t *)out->data)[r * d->depth + c] = (int16_t)v;
      } else {
        ((int8_t *)out->data)[r * d->depth + c] = (int8_t)v;
      }
    }
  }
  return TFL_OK;
}

/* 16x8: e = exp(x - max) from the table (Q0.15, cached in the output row), the row's sum's
 * reciprocal from the 1/(1+x) table after normalising the sum to [1, 2), then e * reciprocal
 * rounded back to Q0.15 and clamped to [0, 32767]. */
static tfl_status softmax_eval_int16(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const softmax_data *d = (const softmax_data *)node->data;
  const int32_t depth = d->depth, mult = d->input_multiplier, shift = d->input_left_shift;
  for (int32_t r = 0; r < d->rows; ++r) {
    const int16_t *row = (const int16_t *)in->data + r * depth;
    int16_t *y = (int16_t *)out->data + r * depth;
    int32_t max_in_row = -32768;
    for (int32_t c = 0; c < depth; ++c) max_in_row = tfl_max(max_in_row, row[c]);
    int32_t sum = 0; /* <= 65536 * 32767: no overflow */
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t scaled = tfl_multiply_by_quantized_multiplier(row[c] - max_in_row, mult, shift);
      y[c] = tfl_lut16_lookup(tfl_clamp(scaled + 32767, -32768, 32767), tfl_softmax16_exp);
      sum += y[c];
    }
    /* the max element's exp is the table's last value (about 32767): 2^14 < sum < 2^31 */
    const int32_t headroom = tfl_clamp(tfl_fx_clz((uint32_t)sum), 1, 17);
    const int32_t shifted = (int32_t)((((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14);
    const int32_t centred = tfl_clamp(shifted - (32768 + 65536), -32768, 32767);
    const int64_t reciprocal = tfl_lut16_lookup(centred, tfl_softmax16_recip);
    const int32_t right = 31 - headroom; /* 14 .. 30 */
    for (int32_t c = 0; c < depth; ++c) {
      const int64_t v = ((int64_t)y[c] * reciprocal + ((int64_t)1 << (right - 1))) >> right;
      y[c] = (int16_t)(v < 0 ? 0 : (v > 32767 ? 32767 : v));
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(softmax, 25, "SOFTMAX", softmax_prepare, softmax_eval);
