/* DIV, int8 (TFLM reference arithmetic), inputs broadcast NumPy-style.
 *
 * Per element: a = x1 - zero_point1, b = x2 - zero_point2 (both signs flipped when b < 0);
 * 1 / b as a Q31 reciprocal: b shifted left until its top bit is set, read as 1 + f with f in
 * [0, 1), gemmlowp's 1 / (1 + f) (tfl_fx_one_over_one_plus), doubled with saturation, with
 * recip_shift = 31 - leading zeros of b. The quotient a * reciprocal is formed with a shifted
 * left by its headroom (leading sign bits), then rescaled by input1_scale / (input2_scale *
 * output_scale) (a float quotient split into Q31 multiplier and shift) with the shifts taken
 * back; plus the output zero point, clamped to the fused activation's range.
 * A zero divisor (b = 0) is undefined in TFLM; here it gives the activation range's end of
 * a's sign.
 *
 * The last rescale's exponent (output shift - recip_shift - headroom) is often below -31 (a
 * small |a| has a large headroom) or above 0, where TFLM's rounding divide by a power of two
 * shifts by more than the type's width: undefined in C++, and on the x86-64 machines the
 * tflite-micro runtime runs on, the shifts take their count modulo 64 (the 64-bit mask) and 32
 * (the int32 shift). div_rounding_divide computes exactly that, without undefined behaviour, so
 * the results equal the reference's on every exponent (measured against the tflite-micro
 * runtime). */
#include "tfl_kernel_broadcast.h"
#include "tfl_kernel_fixedpoint.h"
#include "tfl_kernel_invsqrt.h"

typedef struct {
  int32_t input1_offset;
  int32_t input2_offset;
  int32_t output_offset;
  int32_t multiplier;
  int32_t shift;
  int32_t act_min;
  int32_t act_max;
} tfl_div_data;
TFL_OP_DATA_FITS(tfl_div_data);

static tfl_status div_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1;
  const tfl_tensor *in2;
  const tfl_tensor *out;
  tfl_div_data d;
  int8_t activation = TFL_ACT_NONE;
  if (node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPES_INT8, &in1, &in2, &out));
  TFL_ENSURE(tfl_broadcast_quant_check(in1, in2, out));
  TFL_ENSURE(tfl_broadcast_check(in1, in2, out));
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_ACT_NONE, &activation)); /* DivOptions */
  memset(&d, 0, sizeof d);
  d.input1_offset = -in1->zero_point;
  d.input2_offset = -in2->zero_point;
  d.output_offset = out->zero_point;
  tfl_quantize_multiplier((double)(in1->scale / (in2->scale * out->scale)), &d.multiplier,
                          &d.shift);
  if (d.shift > 31 || d.shift < -31) return TFL_ERR_BAD_QUANTIZATION;
  TFL_ENSURE(tfl_activation_range(activation, out->scale, out->zero_point, -128, 127, &d.act_min,
                                  &d.act_max));
  return tfl_node_set_data(node, &d, sizeof d);
}

/* Leading bits equal to the sign bit, minus one (31 for 0 and -1). */
static int32_t div_leading_sign_bits(int32_t v) {
  return tfl_leading_zeros((uint32_t)(v < 0 ? ~v : v)) - 1;
}

/* TFLM's RoundingDivideByPOT(x, exponent) for any exponent, as x86-64 executes it: mask
 * (2^(exponent mod 64) - 1) truncated to int32, arithmetic shift by exponent mod 32; for
 * 0 <= exponent <= 31 the ordinary rounding (half away from zero) divide. */
static int32_t div_rounding_divide(int32_t x, int32_t exponent) {
  const uint32_t mask_bits = (uint32_t)(((uint64_t)1 << ((uint32_t)exponent & 63u)) - 1u);
  const int32_t mask = (int32_t)mask_bits; /* two's complement (GCC, Clang, armcc) */
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  const int32_t shifted = x >> ((uint32_t)exponent & 31u);
  return shifted + (remainder > threshold ? 1 : 0);
}

static int32_t div_quotient(const tfl_div_data *d, int32_t a, int32_t b) {
  int32_t lz;
  int32_t recip_shift;
  int32_t reciprocal;
  int32_t headroom;
  int32_t unscaled;
  int32_t x;
  if (b == 0) return a >= 0 ? d->act_max : d->act_min;
  if (b < 0) {
    a = -a;
    b = -b;
  }
  lz = tfl_leading_zeros((uint32_t)b);
  recip_shift = 31 - lz;
  x = tfl_fx_one_over_one_plus((int32_t)(((uint32_t)b << lz) - 0x80000000u));
  reciprocal = tfl_fx_saturating_shl(x, 1);
  headroom = div_leading_sign_bits(a);
  unscaled = tfl_multiply_by_quantized_multiplier(a, reciprocal, headroom);
  return d->output_offset +
         div_rounding_divide(tfl_saturating_rounding_doubling_high_mul(unscaled, d->multiplier),
                             recip_shift + headroom - d->shift);
}

static void div_row(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                    int32_t step2, int8_t *out, int32_t n) {
  const tfl_div_data *d = (const tfl_div_data *)params;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t q =
        div_quotient(d, d->input1_offset + in1[i * step1], d->input2_offset + in2[i * step2]);
    out[i] = (int8_t)tfl_clamp(q, d->act_min, d->act_max);
  }
}

static tfl_status div_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_eval(ctx, node, div_row);
}

TFL_DEFINE_KERNEL(div, 42, "DIV", div_prepare, div_eval);
