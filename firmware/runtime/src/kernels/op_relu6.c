/* RELU6, int8 and 16x8 int16 (TFLM reference semantics).
 *
 * TFLM clamps the stored values to [quantized 0, quantized 6] in the INPUT's quantization and
 * does not requantize (TFLite's converter gives RELU6 one scale and zero point for input and
 * output). Quantized 6 is round(6 / input_scale) + input_zero_point, computed in float32 in
 * prepare as TFLM does, saturated to int8. TFLite's own reference kernel requantizes instead;
 * the two differ only when input and output quantization differ. int16 (zero point 0) clamps
 * the same way with quantized 6 saturated to int16. */
#include "tfl_kernel_lut8.h"

typedef struct {
  int32_t lower;
  int32_t upper;
} tfl_relu6_data;
TFL_OP_DATA_FITS(tfl_relu6_data);

/* Output for one stored int16 value (tfl_map16_eval). */
static int32_t relu6_value16(const void *params, int32_t x) {
  const tfl_relu6_data *d = (const tfl_relu6_data *)params;
  return tfl_clamp(x, d->lower, d->upper);
}

TFL_DEFINE_MAP16_KERNEL(relu6_int16, 21, "RELU6", relu6_prepare, relu6_value16);

static tfl_status relu6_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_relu6_data d;
  float six;
  int wide;
  int32_t qmax;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_COPY, 0, &in, NULL, &out));
  if (in->type != out->type) return TFL_ERR_UNSUPPORTED_TYPE;
  wide = TFL_IS_INT16(in);
  if (in->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (wide && in->zero_point != 0) return TFL_ERR_BAD_QUANTIZATION; /* symmetric 16x8 */
  if (tfl_tensor_elements(in) != tfl_tensor_elements(out)) return TFL_ERR_BAD_SHAPE;
  qmax = wide ? 32767 : 127;
  memset(&d, 0, sizeof d);
  d.lower = in->zero_point;
  six = 6.0f / in->scale;
  if (six >= 262144.0f) { /* saturates whatever the zero point */
    d.upper = qmax;
  } else {
    /* round half away from zero of a positive float below 2^23: exact in float */
    int32_t q = (int32_t)six;
    if (six - (float)q >= 0.5f) ++q;
    d.upper = tfl_clamp(q + in->zero_point, -qmax - 1, qmax);
  }
  memcpy(node->data, &d, sizeof d);
  if (TFL_WITH_INT16 && wide) node->kernel = &relu6_int16; /* the int16 eval from now on */
  return TFL_OK;
}

static tfl_status relu6_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int8_t *y = tfl_output_i8(ctx, node, 0);
  const int32_t n = tfl_tensor_elements(out);
  tfl_relu6_data d;
  int32_t i;
  memcpy(&d, node->data, sizeof d);
  for (i = 0; i < n; ++i) {
    const int32_t v = x[i];
    y[i] = (int8_t)(v > d.upper ? d.upper : (v < d.lower ? d.lower : v));
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(relu6, 21, "RELU6", relu6_prepare, relu6_eval);
