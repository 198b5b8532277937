/* L2_NORMALIZATION, int8 (TFLM reference arithmetic): each vector along the last dim divided
 * by its L2 norm, the output in 1/128 steps (TFLM writes the raw Q7 value whatever the output
 * quantization; the converter gives scale 1/128, zero point 0).
 *
 * Per vector: acc = sum (x - zero_point)^2 (int32; wraps as TFLM's does, beyond 2^16 elements);
 * 1 / sqrt(acc) as tfl_inv_sqrt_multiplier's multiplier and shift; each output is
 * (x - zero_point) times that with 7 more left-shift bits, saturated to int8. The fused
 * activation must be NONE (option field 0). Rank at most 4, as in TFLM. */
#include "tfl_kernel_invsqrt.h"

typedef struct {
  int32_t zero_point;
  int32_t outer;
  int32_t depth;
} tfl_l2_normalization_data;
TFL_OP_DATA_FITS(tfl_l2_normalization_data);

static tfl_status l2_normalization_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in;
  const tfl_tensor *out;
  tfl_l2_normalization_data d;
  int8_t activation = TFL_ACT_NONE;
  int32_t last;
  if (node->input_count != 1 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, 0, &in, NULL, &out));
  if (in->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (in->dims_count < 1 || in->dims_count > 4 || !tfl_same_shape(in, out))
    return TFL_ERR_BAD_SHAPE;
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_ACT_NONE, &activation));
  if (activation != TFL_ACT_NONE) return TFL_ERR_UNSUPPORTED_OPTION;
  d.zero_point = in->zero_point;
  tfl_axis_split(in, in->dims_count - 1, &d.outer, &last);
  d.depth = in->dims[in->dims_count - 1];
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status l2_normalization_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_l2_normalization_data *d = (const tfl_l2_normalization_data *)node->data;
  const tfl_io_i8 io = tfl_io_i8_of(ctx, node);
  for (int32_t o = 0; o < d->outer; ++o) {
    const int8_t *row = io.x + (size_t)o * (size_t)d->depth;
    int8_t *out_row = io.y + (size_t)o * (size_t)d->depth;
    uint32_t acc = 0;
    int32_t m, s;
    for (int32_t k = 0; k < d->depth; ++k) {
      const int32_t v = (int32_t)row[k] - d->zero_point;
      acc += (uint32_t)(v * v);
    }
    tfl_inv_sqrt_multiplier((int32_t)acc, &m, &s);
    for (int32_t k = 0; k < d->depth; ++k)
      out_row[k] = (int8_t)tfl_clamp(
          tfl_multiply_by_quantized_multiplier((int32_t)row[k] - d->zero_point, m, s + 7), -128,
          127);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(l2_normalization, 11, "L2_NORMALIZATION", l2_normalization_prepare,
                  l2_normalization_eval);
