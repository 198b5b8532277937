/* QUANTIZE: float32 -> int8/uint8/int16 (q = round(x / scale) + zero_point, float arithmetic as
 * in TFLite's reference) and requantization between int8/uint8/int16
 * (q = zp_out + (x - zp_in) * (scale_in / scale_out), with the Q31 multiplier and TFLM's
 * double rounding), and from int8/int16 to int32 (TFLM's same formula; the int32 result wraps as
 * TFLM's does, no clamp). Float arithmetic only on the float-input path. */
#include "tfl_kernel.h"

typedef struct {
  int32_t multiplier;
  int32_t shift;
  int32_t in_zero_point;
  int32_t out_zero_point;
  int32_t qmin;
  int32_t qmax;
  float scale;
} quantize_data;
TFL_OP_DATA_FITS(quantize_data);

/* roundf() without libm: half away from zero; NaN and |f| >= 2^23 pass through */
static float round_half_away_f(float f) {
  if (!(f > -8388608.0f && f < 8388608.0f)) return f;
  const float t = (float)(int32_t)f;
  const float frac = f - t;
  if (frac >= 0.5f) return t + 1.0f;
  if (frac <= -0.5f) return t - 1.0f;
  return t;
}

static int range_of(uint8_t type, int32_t *lo, int32_t *hi) {
  switch (type) {
    case TFL_TYPE_INT8:
      *lo = -128;
      *hi = 127;
      return 1;
    case TFL_TYPE_UINT8:
      *lo = 0;
      *hi = 255;
      return 1;
    case TFL_TYPE_INT16:
      *lo = -32768;
      *hi = 32767;
      return TFL_WITH_INT16; /* 16x8 */
    default:
      return 0;
  }
}

static void store(void *base, uint8_t type, int32_t i, int32_t v) {
  switch (type) {
    case TFL_TYPE_INT8:
      ((int8_t *)base)[i] = (int8_t)v;
      break;
    case TFL_TYPE_UINT8:
      ((uint8_t *)base)[i] = (uint8_t)v;
      break;
    case TFL_TYPE_INT32:
      ((int32_t *)base)[i] = v;
      break;
    default:
      ((int16_t *)base)[i] = (int16_t)v;
      break;
  }
}

static tfl_status quantize_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  quantize_data *d = (quantize_data *)node->data;
  TFL_ENSURE(tfl_prepare_cast_tensors(ctx, node, &in, &out));
  if (out->type == TFL_TYPE_INT32 && (in->type == TFL_TYPE_INT8 || TFL_IS_INT16(in))) {
    d->qmin = INT32_MIN; /* int8/int16 -> int32 only, as TFLM */
    d->qmax = INT32_MAX;
  } else if (!range_of(out->type, &d->qmin, &d->qmax)) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  if (out->quant_count != 1 || !(out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  d->out_zero_point = out->zero_point;
  d->scale = out->scale;
  if (in->type == TFL_TYPE_FLOAT32) return TFL_OK;
  int32_t lo, hi;
  if (!range_of(in->type, &lo, &hi)) return TFL_ERR_UNSUPPORTED_TYPE;
  if (in->quant_count != 1 || !(in->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  d->in_zero_point = in->zero_point;
  tfl_quantize_multiplier((double)in->scale / (double)out->scale, &d->multiplier, &d->shift);
  return TFL_OK;
}

static tfl_status quantize_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const quantize_data *d = (const quantize_data *)node->data;
  const int32_t n = tfl_tensor_elements(in);
  if (in->type == TFL_TYPE_FLOAT32) {
    const float *x = (const float *)in->data;
    const float lo = (float)(d->qmin - d->out_zero_point);
    const float hi = (float)(d->qmax - d->out_zero_point);
    for (int32_t i = 0; i < n; ++i) {
      float q = round_half_away_f(x[i] / d->scale);
      int32_t v;
      if (q != q) {
        v = d->out_zero_point; /* NaN has no quantized value; TFLite leaves it undefined */
      } else if (q <= lo) {
        v = d->qmin;
      } else if (q >= hi) {
        v = d->qmax;
      } else {
        v = (int32_t)q + d->out_zero_point;
      }
      store(out->data, out->type, i, v);
    }
    return TFL_OK;
  }
  for (int32_t i = 0; i < n; ++i) {
    /* zero points are inside the storage type's range (checked by tfl_init): no overflow but in
     * the final add, which is done wrapping */
    const int32_t x = tfl_load_quantized(in->data, in->type, i) - d->in_zero_point;
    int32_t v =
        (int32_t)((uint32_t)tfl_multiply_by_quantized_multiplier(x, d->multiplier, d->shift) +
                  (uint32_t)d->out_zero_point);
    store(out->data, out->type, i, tfl_clamp(v, d->qmin, d->qmax));
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(quantize, 114, "QUANTIZE", quantize_prepare, quantize_eval);
