/* MEAN, int8 (TFLM reference arithmetic).
 *
 * Input 1 is a constant int32 vector of axes (negative counts from the back, repeats allowed);
 * ReducerOptions.keep_dims keeps the reduced dims as 1. TFLM takes one integer path for every
 * int8 case (any axes, keep_dims or not, same or different quantization):
 *   multiplier, shift = input_scale / output_scale split into Q31 and exponent;
 *   k = min(floor(log2(n)), 32, 31 + shift), with n the number of elements averaged;
 *   multiplier = (multiplier << k) / n (int64, truncating), shift -= k;
 *   out = requantize(sum(x) - input_zero_point * n) + output_zero_point, saturated to int8.
 * No scratch buffer: each output sums its own elements. */
#include "tfl_kernel.h"

#define TFL_MEAN_MAX_AXES 8

typedef struct {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier;
  int32_t shift;
  int32_t count;        /* elements averaged per output */
  int32_t reduced_mask; /* bit d: input dim d is reduced */
} tfl_mean_data;
TFL_OP_DATA_FITS(tfl_mean_data);

static tfl_status mean_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *axes = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t rank = in != NULL ? (int32_t)in->dims_count : 0;
  tfl_mean_data d;
  int keep_dims = 0;
  int32_t axis_count;
  int32_t i;
  int32_t k;
  int32_t expected_rank = 0;
  int64_t count = 1;
  int64_t scaled;
  if (in == NULL || axes == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (axes->type != TFL_TYPE_INT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!axes->is_constant || axes->data == NULL) return TFL_ERR_BAD_BUFFER;
  if (in->quant_count < 1 || out->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  if (!(in->scale > 0.0f && out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  TFL_ENSURE(tfl_option_bool(ctx, node, 0, 0, &keep_dims)); /* ReducerOptions.keep_dims */

  memset(&d, 0, sizeof d);
  axis_count = tfl_tensor_elements(axes);
  if (axis_count < 0 || axis_count > TFL_MEAN_MAX_AXES || axes->bytes < axis_count * 4)
    return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < axis_count; ++i) {
    const uint8_t *p = (const uint8_t *)axes->data + 4 * i;
    int32_t axis = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                             ((uint32_t)p[3] << 24));
    if (axis < -rank || axis >= rank) return TFL_ERR_BAD_SHAPE;
    if (axis < 0) axis += rank;
    d.reduced_mask |= 1 << axis;
  }
  /* output shape: the input's without (or with 1 in place of) the reduced dims */
  for (i = 0; i < rank; ++i) {
    if ((d.reduced_mask >> i) & 1) {
      count *= in->dims[i];
      if (count > INT32_MAX) return TFL_ERR_BAD_SHAPE;
      if (!keep_dims) continue;
      if (expected_rank >= (int32_t)out->dims_count || out->dims[expected_rank] != 1)
        return TFL_ERR_BAD_SHAPE;
    } else if (expected_rank >= (int32_t)out->dims_count ||
               out->dims[expected_rank] != in->dims[i]) {
      return TFL_ERR_BAD_SHAPE;
    }
    ++expected_rank;
  }
  if (expected_rank != (int32_t)out->dims_count) return TFL_ERR_BAD_SHAPE;

  d.input_zero_point = in->zero_point;
  d.output_zero_point = out->zero_point;
  d.count = (int32_t)count;
  tfl_quantize_multiplier((double)in->scale / (double)out->scale, &d.multiplier, &d.shift);
  if (count > 0) {
    k = 0;
    while (k < 62 && ((int64_t)1 << (k + 1)) <= count) ++k; /* floor(log2(count)) */
    k = tfl_min(k, 32);
    k = tfl_min(k, 31 + d.shift);
    if (k < 0) return TFL_ERR_BAD_QUANTIZATION;
    scaled = ((int64_t)d.multiplier * ((int64_t)1 << k)) / count;
    d.multiplier = (int32_t)scaled;
    d.shift -= k;
  }
  /* the requantized sum must not overflow: |sum| <= 255 * count, shifted left by shift */
  if (d.shift > 0 && (int64_t)255 * count > (INT32_MAX >> d.shift)) return TFL_ERR_BAD_QUANTIZATION;
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

static tfl_status mean_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = (const int8_t *)in->data;
  int8_t *y = (int8_t *)out->data;
  const int32_t out_count = tfl_tensor_elements(out);
  /* input dims grouped into runs of kept / reduced dims (size-1 dims dropped), outer first */
  int32_t kept_dims[TFL_MAX_DIMS], kept_strides[TFL_MAX_DIMS], kept_idx[TFL_MAX_DIMS];
  int32_t red_dims[TFL_MAX_DIMS], red_strides[TFL_MAX_DIMS], red_idx[TFL_MAX_DIMS];
  int32_t kept_n = 0;
  int32_t red_n = 0;
  int32_t stride = 1;
  int32_t prev = -1; /* 0: last group was kept, 1: reduced */
  int32_t base = 0;
  int32_t o;
  int32_t i;
  tfl_mean_data d;
  memcpy(&d, node->data, sizeof d);
  if (out_count == 0) return TFL_OK;
  if (d.count == 0) { /* nothing to average: TFLM leaves zeros */
    memset(y, 0, (size_t)out_count);
    return TFL_OK;
  }
  /* walk the input dims innermost first, then reverse the groups */
  for (i = (int32_t)in->dims_count - 1; i >= 0; --i) {
    const int32_t dim = in->dims[i];
    const int32_t reduced = (d.reduced_mask >> i) & 1;
    if (dim != 1) {
      if (reduced == prev) {
        if (reduced) red_dims[red_n - 1] *= dim; else kept_dims[kept_n - 1] *= dim;
      } else if (reduced) {
        red_dims[red_n] = dim;
        red_strides[red_n++] = stride;
      } else {
        kept_dims[kept_n] = dim;
        kept_strides[kept_n++] = stride;
      }
      prev = reduced;
    }
    stride *= dim;
  }
  memset(kept_idx, 0, sizeof kept_idx);
  for (o = 0; o < out_count; ++o) {
    int32_t sum = 0;
    int32_t off = base;
    int64_t shifted;
    int32_t r;
    int32_t j;
    memset(red_idx, 0, sizeof red_idx);
    for (;;) { /* red_*[0] is the innermost run: a tight strided loop; the rest an odometer */
      const int32_t run = red_n > 0 ? red_dims[0] : 1;
      const int32_t step = red_n > 0 ? red_strides[0] : 0;
      int32_t e;
      int32_t p = off;
      for (e = 0; e < run; ++e) {
        sum += x[p];
        p += step;
      }
      for (j = 1; j < red_n; ++j) {
        off += red_strides[j];
        if (++red_idx[j] < red_dims[j]) break;
        off -= red_strides[j] * red_dims[j];
        red_idx[j] = 0;
      }
      if (j >= red_n) break;
    }
    shifted = (int64_t)sum - (int64_t)d.input_zero_point * d.count;
    r = tfl_multiply_by_quantized_multiplier((int32_t)shifted, d.multiplier, d.shift) +
        d.output_zero_point;
    y[o] = (int8_t)tfl_clamp(r, -128, 127);
    for (j = 0; j < kept_n; ++j) {
      base += kept_strides[j];
      if (++kept_idx[j] < kept_dims[j]) break;
      base -= kept_strides[j] * kept_dims[j];
      kept_idx[j] = 0;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(mean, 40, "MEAN", mean_prepare, mean_eval);
