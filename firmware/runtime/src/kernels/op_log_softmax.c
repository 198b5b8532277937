/* LOG_SOFTMAX, int8 along the last dimension (TFLM reference arithmetic): output scale 16/256 and
 * zero point 127, as TFLM requires (log-probabilities in [-16, 0)).
 *   - diff = x - max(row), rescaled by input_scale (beta 1) into Q5.26 (multiplier > 1);
 *   - the sum of exp(diff) (Q0.31 each, tfl_fx_exp_negative_q5) in Q12.19, over the diffs
 *     >= diff_min (the Q5.26 range);
 *   - its log in Q5.26 (tfl_fx_log_q12_to_q5);
 *   - out = (diff_q5 - log_sum) / 2^22 rounded, + 127, clamped to int8; diffs at or below the
 *     point where that result would leave int32 (log_sum - 2^31 brought back to the input's
 *     scale by the reverse multiplier) give -128.
 * Sums and differences wrap as TFLM's int32 arithmetic does (computed unsigned here). */
#include "tfl_kernel.h"
#include "tfl_kernel_fixedpoint.h"

enum { LS_INPUT_BITS = 5, LS_ACCUM_BITS = 12, LS_OUTPUT_BITS = 4 };

typedef struct {
  int32_t input_multiplier;
  int32_t input_left_shift;
  int32_t reverse_multiplier;
  int32_t reverse_shift; /* <= 0 */
  int32_t diff_min;
  int32_t depth;
  int32_t rows;
} tfl_log_softmax_data;
TFL_OP_DATA_FITS(tfl_log_softmax_data);

static tfl_status log_softmax_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_log_softmax_data d;
  double real;
  const tfl_tensor *in, *out;
  if (node->input_count != 1 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, 0, &in, NULL, &out));
  if (in->dims_count < 1 || !tfl_same_shape(in, out)) return TFL_ERR_BAD_SHAPE;
  if (in->quant_count < 1 || out->quant_count < 1 || !(in->scale > 0.0f))
    return TFL_ERR_BAD_QUANTIZATION;
  if (out->scale != 16.0f / 256.0f || out->zero_point != 127) return TFL_ERR_BAD_QUANTIZATION;
  d.depth = in->dims[in->dims_count - 1];
  d.rows = d.depth > 0 ? tfl_tensor_elements(in) / d.depth : 0;
  /* input_scale * 2^26 as a multiplier above one (capped at 2^31 - 1) and a left shift */
  real = (double)in->scale * (double)((int64_t)1 << (31 - LS_INPUT_BITS));
  if (real > 2147483647.0) real = 2147483647.0;
  if (!(real > 1.0)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier(real, &d.input_multiplier, &d.input_left_shift);
  if (d.input_left_shift < 1 || d.input_left_shift > 30) return TFL_ERR_BAD_QUANTIZATION;
  /* the reverse scaling: 2^(31 - shift) / multiplier, a multiplier below one */
  tfl_quantize_multiplier(
      (double)((int64_t)1 << (31 - d.input_left_shift)) / (double)d.input_multiplier,
      &d.reverse_multiplier, &d.reverse_shift);
  if (d.reverse_shift > 0) return TFL_ERR_BAD_QUANTIZATION;
  /* floor((2^5 - 1) * 2^26 / 2^shift): the largest |diff| whose rescaled value fits Q5.26 */
  d.diff_min =
      -(int32_t)((double)((1 << LS_INPUT_BITS) - 1) * (double)((int64_t)1 << (31 - LS_INPUT_BITS)) /
                 (double)((int64_t)1 << d.input_left_shift));
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status log_softmax_eval(tfl_context *ctx, tfl_node *node) {
  tfl_log_softmax_data d;
  const tfl_io_i8 io = tfl_io_i8_of(ctx, node);
  int32_t r;
  int32_t c;
  memcpy(&d, node->data, sizeof d);
  for (r = 0; r < d.rows; ++r) {
    const int8_t *x = io.x + (size_t)r * (size_t)d.depth;
    int8_t *y = io.y + (size_t)r * (size_t)d.depth;
    int32_t max_in_row = -128;
    int32_t sum = 0; /* Q12.19 */
    int32_t log_sum;
    int32_t cutoff;
    for (c = 0; c < d.depth; ++c) max_in_row = tfl_max(max_in_row, x[c]);
    for (c = 0; c < d.depth; ++c) {
      const int32_t diff = x[c] - max_in_row;
      if (diff >= d.diff_min) {
        const int32_t q5 =
            tfl_multiply_by_quantized_multiplier(diff, d.input_multiplier, d.input_left_shift);
        /* Q0.31 -> Q12.19 */
        sum = tfl_fx_wrap_add(
            sum, tfl_rounding_divide_by_pot(tfl_fx_exp_negative_q5(q5), LS_ACCUM_BITS));
      }
    }
    log_sum = tfl_fx_log_q12_to_q5(sum);
    cutoff = tfl_max(d.diff_min - 1,
                     tfl_multiply_by_quantized_multiplier(tfl_fx_wrap_add(log_sum, INT32_MIN),
                                                          d.reverse_multiplier, d.reverse_shift));
    for (c = 0; c < d.depth; ++c) {
      const int32_t diff = x[c] - max_in_row;
      int32_t v = -128;
      if (diff > cutoff) {
        const int32_t q5 =
            tfl_multiply_by_quantized_multiplier(diff, d.input_multiplier, d.input_left_shift);
        v = tfl_rounding_divide_by_pot(tfl_fx_wrap_sub(q5, log_sum),
                                       31 - LS_INPUT_BITS - LS_OUTPUT_BITS) +
            127;
        v = tfl_clamp(v, -128, 127);
      }
      y[c] = (int8_t)v;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(log_softmax, 50, "LOG_SOFTMAX", log_softmax_prepare, log_softmax_eval);
