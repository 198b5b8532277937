/* RSQRT, int8 and 16x8 int16 (TFLM reference arithmetic): 1 / sqrt(input) per element (int16:
 * zero points 0, as TFLM requires; 32767 for 0 and int16 saturation).
 *
 * v = x - input_zero_point; v = 0 gives 127 (the largest output, TFLM's choice for "close to
 * 0"); v < 0 stops eval with TFL_ERR_BAD_ARGUMENT (TFLM: "only defined for positive values").
 * Otherwise 1 / sqrt(v) as tfl_inv_sqrt_multiplier's multiplier and shift is applied to 1 with
 * 20 extra fractional bits, then rescaled by 1 / (sqrt(input_scale) * output_scale) with those
 * 20 bits taken back, plus the output zero point, saturated to int8. The rescale is computed in
 * prepare as TFLM does: float sqrt (tfl_sqrtf) and product, then the double reciprocal. */
#include "tfl_kernel_invsqrt.h"
#include "tfl_kernel_lut8.h"

#define RSQRT_SHIFT 20

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier;
  int32_t shift;
} tfl_rsqrt_data;
TFL_OP_DATA_FITS(tfl_rsqrt_data);

static tfl_status rsqrt_eval16(tfl_context *ctx, tfl_node *node);
TFL_DEFINE_KERNEL16(rsqrt_int16, 76, "RSQRT", rsqrt_prepare, rsqrt_eval16);

static tfl_status rsqrt_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in;
  const tfl_tensor *out;
  tfl_rsqrt_data d;
  int wide = 0;
  if (node->input_count != 1 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_map_prepare(ctx, node, &in, &out, &wide)); /* int8, or int16 zero points 0 */
  memset(&d, 0, sizeof d);
  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  if (!(tfl_sqrtf(in->scale) > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier(1.0 / (double)(tfl_sqrtf(in->scale) * out->scale), &d.multiplier,
                          &d.shift);
  /* the rescale's right shift (20 - shift) must stay below 32 */
  if (d.shift - RSQRT_SHIFT < -31 || d.shift > 31) return TFL_ERR_BAD_QUANTIZATION;
  if (TFL_WITH_INT16 && wide) node->kernel = &rsqrt_int16; /* the int16 eval from now on */
  return tfl_node_set_data(node, &d, sizeof d);
}

/* The eval over int8 (wide = 0) or int16 (wide = 1) elements; `wide` is a constant at each
 * call. */
static inline tfl_status rsqrt_run(tfl_context *ctx, const tfl_node *node, int wide) {
  const tfl_rsqrt_data *d = (const tfl_rsqrt_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t n = tfl_tensor_elements(out);
  const int32_t qmax = wide ? 32767 : 127;
  const int32_t qmin = -qmax - 1;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t x = wide ? ((const int16_t *)in->data)[i] : ((const int8_t *)in->data)[i];
    const int32_t v = x - d->input_zero_point;
    int32_t m;
    int32_t s;
    int64_t r = qmax;
    if (v < 0) return TFL_ERR_BAD_ARGUMENT;
    if (v != 0) {
      tfl_inv_sqrt_multiplier(v, &m, &s);
      r = (int64_t)tfl_multiply_by_quantized_multiplier(
              tfl_multiply_by_quantized_multiplier(1, m, s + RSQRT_SHIFT), d->multiplier,
              d->shift - RSQRT_SHIFT) +
          d->output_zero_point;
      r = r < qmin ? qmin : (r > qmax ? qmax : r);
    }
    if (wide) {
      ((int16_t *)out->data)[i] = (int16_t)r;
    } else {
      ((int8_t *)out->data)[i] = (int8_t)r;
    }
  }
  return TFL_OK;
}

static tfl_status rsqrt_eval(tfl_context *ctx, tfl_node *node) { return rsqrt_run(ctx, node, 0); }
static tfl_status rsqrt_eval16(tfl_context *ctx, tfl_node *node) { return rsqrt_run(ctx, node, 1); }

TFL_DEFINE_KERNEL(rsqrt, 76, "RSQRT", rsqrt_prepare, rsqrt_eval);
