/* The quantization of ADD_N and CUMSUM (see the header). */
#include "tfl_kernel_scaled_sum.h"

/* A multiplier in (0, 1) as TFLM's "smaller than one" split: Q31 value and a shift <= 0. */
static tfl_status scaled_sum_multiplier(double real, int32_t *multiplier, int32_t *shift) {
  if (!(real > 0.0 && real < 1.0)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier(real, multiplier, shift);
  return *shift <= 0 ? TFL_OK : TFL_ERR_BAD_QUANTIZATION;
}

tfl_status tfl_scaled_sum_prepare(const tfl_tensor *in, const tfl_tensor *out,
                                  tfl_scaled_sum *params) {
  tfl_scaled_sum d;
  double twice_scale;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->quant_count < 1 || out->quant_count < 1 || !(in->scale > 0.0f) || !(out->scale > 0.0f))
    return TFL_ERR_BAD_QUANTIZATION;
  memset(&d, 0, sizeof d);
  d.input_offset = -in->zero_point;
  d.output_offset = out->zero_point;
  twice_scale = 2.0 * (double)in->scale;
  TFL_ENSURE(
      scaled_sum_multiplier((double)in->scale / twice_scale, &d.input_multiplier, &d.input_shift));
  TFL_ENSURE(scaled_sum_multiplier(twice_scale / ((double)(1L << 20) * (double)out->scale),
                                   &d.output_multiplier, &d.output_shift));
  *params = d;
  return TFL_OK;
}

int8_t tfl_scaled_sum_output(const tfl_scaled_sum *p, uint32_t sum) {
  /* int64: defined for any rescaled value plus the zero point */
  const int64_t r = (int64_t)tfl_multiply_by_quantized_multiplier(
                        (int32_t)sum, p->output_multiplier, p->output_shift) +
                    p->output_offset;
  return (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
}
