/* int16 sigmoid and tanh by table interpolation, and the int16 LOGISTIC and TANH kernels'
 * prepare and eval (see tfl_kernel_lut16.h). */
#include "tfl_kernel_lut16.h"
#include "tfl_kernel_fixedpoint.h"
#include "tfl_kernel_lut8.h"

/* Measured from TFLM's int16 TANH by scripts/measure_sigmoid_table.py. */
const uint16_t tfl_sigmoid_table_u16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
};

/* sigmoid(|x| / 2^bits / 24) in 0.16 scaled by 2^bits: the entry at a >> bits plus the fraction
 * (the low bits of a) of the step to the next entry. Entries past the table give `saturated`. */
static uint32_t lut_interpolate(uint32_t a, uint32_t bits, uint32_t saturated) {
  const uint32_t hi = a >> bits;
  if (hi >= 255u) return saturated;
  const uint32_t lo = tfl_sigmoid_table_u16[hi];
  const uint32_t next = tfl_sigmoid_table_u16[hi + 1u]; /* the table is non-decreasing */
  return (lo << bits) + (a & ((1u << bits) - 1u)) * (next - lo);
}

/* (v * multiplier + round) >> right_shift; prepare bounds multiplier * 32768 + round below 2^31
 * and right_shift to 0..31. */
static int32_t lut_scale(int32_t v, int32_t multiplier, int32_t right_shift) {
  const int32_t round = right_shift > 0 ? (int32_t)(1u << (right_shift - 1)) : 0;
  return (v * multiplier + round) >> right_shift;
}

int16_t tfl_lut16_sigmoid_scaled(int32_t v, int32_t multiplier, int32_t right_shift) {
  const int32_t x = lut_scale(v, multiplier, right_shift);
  const uint32_t a = (uint32_t)(x < 0 ? -x : x);
  const uint32_t r = lut_interpolate(a, 9u, 0x7FFFu << 10);
  /* to Q0.15 with rounding (2^9 of 2^10); sigmoid(-x) = 1 - sigmoid(x) */
  const uint32_t q = x >= 0 ? (r + (1u << 9)) >> 10 : ((1u << 25) - r + (1u << 9) - 1u) >> 10;
  return (int16_t)q;
}

int16_t tfl_lut16_sigmoid(int32_t v) { return tfl_lut16_sigmoid_scaled(v, 3, 0); }

int16_t tfl_lut16_tanh(int32_t v, int32_t multiplier, int32_t right_shift) {
  const int32_t x = lut_scale(v, multiplier, right_shift);
  const uint32_t a = (uint32_t)(x < 0 ? -x : x);
  const int32_t r = (int32_t)lut_interpolate(a, 8u, 0xFFFFu << 8);
  /* tanh = 2 sigmoid(2x) - 1: subtract one half (2^23 at this scale), Q0.15 with rounding */
  const int32_t q = x >= 0 ? (r - (1 << 23) + (1 << 7)) >> 8 : (-r + (1 << 23) + (1 << 7) - 1) >> 8;
  return (int16_t)q;
}

/* ---- LOGISTIC and TANH, int16 ------------------------------------------------------- */

/* 2^30 * 2^0.001 and 2^30 * 2^(1 - 0.001) (rounded), and 2^30 * sqrt(2): a scale
 * (q / 2^30) * 2^e with 2^30 <= q < 2^31 is taken as a power of two when its log2 is within
 * 1e-3 of an integer, as TFLM's CheckedLog2 does; log2 rounds up from q >= 2^30 * sqrt(2). */
#define LUT16_POT_LOW 1074486343
#define LUT16_POT_HIGH 2145995642
#define LUT16_SQRT2 1518500250

/* 1 and *log2 = the nearest integer to log2(x) when x > 0 is a power of two within 1e-3 of the
 * exponent; 0 otherwise (*log2 still the nearest integer). No libm: the Q31 split of x. */
static int lut16_checked_log2(float x, int32_t *log2) {
  int32_t q;
  int32_t e;
  tfl_quantize_multiplier((double)x, &q, &e); /* x = q * 2^(e - 31) */
  if (q >= LUT16_SQRT2) {
    *log2 = e;
    return q > LUT16_POT_HIGH;
  }
  *log2 = e - 1;
  return q < LUT16_POT_LOW;
}

tfl_status tfl_lut16_prepare(const tfl_tensor *in, const tfl_tensor *out, tfl_node *node,
                             int32_t function, const tfl_kernel *kernel16) {
  tfl_lut16_params d;
  int32_t log2_in = 0;
  int32_t log2_out = 0;
  int pot;
  if (in->type != TFL_TYPE_INT16 || out->type != TFL_TYPE_INT16) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->quant_count < 1 || out->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (in->zero_point != 0 || out->zero_point != 0) return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f && out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (tfl_tensor_elements(in) != tfl_tensor_elements(out)) return TFL_ERR_BAD_SHAPE;
  /* the output is Q0.15: scale 2^-15 */
  if (!lut16_checked_log2(out->scale, &log2_out) || log2_out != -15)
    return TFL_ERR_BAD_QUANTIZATION;
  memset(&d, 0, sizeof d);
  d.function = function;
  /* inputs in Q3.12 (scale 2^-12; TANH also 2^-11) need only the factor 3 of the table */
  pot = lut16_checked_log2(in->scale, &log2_in);
  d.right_shift = 12 + log2_in;
  if (pot && (d.right_shift == 0 || (function == TFL_LUT16_TANH && d.right_shift == 1))) {
    d.multiplier = 3 << d.right_shift;
    d.right_shift = 0;
  } else {
    /* to the table's input scale 1 / (3 * 4096): the multiplier doubled into (16383.5, 32767]
     * with as many right shifts (at most 31) */
    double multiplier = (double)in->scale * 4096.0 * 3.0;
    d.right_shift = 0;
    while (multiplier <= 32767.0 / 2.0 && d.right_shift <= 30) {
      ++d.right_shift;
      multiplier *= 2.0;
    }
    /* larger would overflow int32 in TFLM too (v * multiplier) */
    if (!(multiplier <= 32767.0)) return TFL_ERR_BAD_QUANTIZATION;
    d.multiplier = (int32_t)multiplier;
  }
  memcpy(node->data, &d, sizeof d);
  node->kernel = kernel16; /* the int16 eval from now on */
  return TFL_OK;
}

/* Output for one stored int16 value (tfl_map16_eval). */
static int32_t lut16_value(const void *params, int32_t x) {
  const tfl_lut16_params *d = (const tfl_lut16_params *)params;
  if (d->function == TFL_LUT16_TANH) return tfl_lut16_tanh(x, d->multiplier, d->right_shift);
  return tfl_lut16_sigmoid_scaled(x, d->multiplier, d->right_shift);
}

tfl_status tfl_lut16_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_map16_eval(ctx, node, lut16_value);
}

tfl_status tfl_logistic_tanh_prepare(tfl_context *ctx, tfl_node *node, int32_t function,
                                     const tfl_kernel *kernel16) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (TFL_IS_INT16(in)) return tfl_lut16_prepare(in, out, node, function, kernel16); /* 16x8 */
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (function == TFL_LUT16_LOGISTIC &&
      (out->quant_count < 1 || out->zero_point != -128 || out->scale != 1.0f / 256.0f)) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  return tfl_q4_input_prepare(in, out, node);
}
