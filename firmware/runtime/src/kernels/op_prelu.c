/* PRELU, int8 input and alpha (TFLM reference arithmetic).
 *
 * With v = x - input_zero_point:
 *   v >= 0: out = requantize(v, input_scale / output_scale)
 *   v < 0:  out = requantize(v * (alpha - alpha_zero_point),
 *                            input_scale * alpha_scale / output_scale)
 * plus output_zero_point, saturated to int8 (multipliers from double quotients, TFLM's double
 * rounding). Alpha (per-tensor quantized, usually a constant) broadcasts NumPy-style against
 * the input; the output has the broadcast shape. */
#include "tfl_kernel.h"
#include "tfl_kernel_broadcast.h"

typedef struct {
  int32_t input_zero_point;
  int32_t alpha_zero_point;
  int32_t output_zero_point;
  int32_t multiplier1;
  int32_t shift1;
  int32_t multiplier2;
  int32_t shift2;
} tfl_prelu_data;
TFL_OP_DATA_FITS(tfl_prelu_data);

static tfl_status prelu_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *alpha, *out;
  tfl_prelu_data d;
  TFL_ENSURE(tfl_broadcast_tensors_int8(ctx, node, &in, &alpha, &out));
  if (in->quant_count != 1 || alpha->quant_count != 1 || out->quant_count != 1)
    return TFL_ERR_BAD_QUANTIZATION;
  const double real1 = (double)in->scale / (double)out->scale;
  const double real2 = (double)in->scale * (double)alpha->scale / (double)out->scale;
  if (!(real1 > 0.0 && real2 > 0.0)) return TFL_ERR_BAD_QUANTIZATION;
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  d.alpha_zero_point = alpha->zero_point;
  d.output_zero_point = out->zero_point;
  tfl_quantize_multiplier(real1, &d.multiplier1, &d.shift1);
  tfl_quantize_multiplier(real2, &d.multiplier2, &d.shift2);
  return tfl_node_set_data(node, &d, sizeof d);
}

static void prelu_row(const void *params, const int8_t *in, int32_t step1, const int8_t *alpha,
                      int32_t step2, int8_t *out, int32_t n) {
  const tfl_prelu_data *d = (const tfl_prelu_data *)params;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t v = (int32_t)in[i * step1] - d->input_zero_point;
    int32_t r;
    if (v >= 0) {
      r = tfl_multiply_by_quantized_multiplier(v, d->multiplier1, d->shift1);
    } else {
      const int32_t a = (int32_t)alpha[i * step2] - d->alpha_zero_point;
      r = tfl_multiply_by_quantized_multiplier(v * a, d->multiplier2, d->shift2);
    }
    {
      const int64_t o = (int64_t)r + d->output_zero_point; /* defined for any requantized r */
      out[i] = (int8_t)(o < -128 ? -128 : (o > 127 ? 127 : o));
    }
  }
}

static tfl_status prelu_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_eval(ctx, node, prelu_row);
}

TFL_DEFINE_KERNEL(prelu, 54, "PRELU", prelu_prepare, prelu_eval);
