/* SQUARED_DIFFERENCE, int8 (TFLM reference arithmetic).
 *
 * Like ADD/SUB, both inputs move to a common scale first: with s = 2 * max(scale1, scale2),
 *   a = requantize((x1 - zero_point1) << 7, scale1 / s)   (Q31 multiplier below 1, right shift)
 *   b = requantize((x2 - zero_point2) << 7, scale2 / s)
 *   out = requantize((a - b)^2, s^2 / (2^14 * output_scale)) + output_zero_point
 * saturated to int8; the 2^14 * output_scale product is taken in float, as in TFLM. |a - b| is
 * at most 255 << 7, so the square fits in int32. Inputs broadcast NumPy-style.
 * int32 inputs and output: (x1 - x2)^2 on the values, wrapping as TFLM's int32 arithmetic does
 * on the machines it runs on (computed in uint32_t here: no signed overflow).
 * 16x8 int16 (zero points 0, as TFLM requires): the same steps without the << 7 (|a - b| is at
 * most 2^15, its square fits) and 2^0 * output_scale, saturated to int16; prepare selects its
 * eval. */
#include "tfl_kernel.h"
#include "tfl_kernel_broadcast.h"

typedef struct {
  tfl_input_rescale in1;
  tfl_input_rescale in2;
  int32_t output_multiplier;
  int32_t output_shift;
  int32_t output_zero_point;
  int32_t int32; /* 1: int32 values, no quantization */
} tfl_squared_difference_data;
TFL_OP_DATA_FITS(tfl_squared_difference_data);

static tfl_status sqdiff_small(double real, int32_t *multiplier, int32_t *shift) {
  if (!(real > 0.0 && real < 1.0)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier(real, multiplier, shift);
  return *shift <= 0 ? TFL_OK : TFL_ERR_BAD_QUANTIZATION;
}

static tfl_status squared_difference_eval16(tfl_context *ctx, tfl_node *node);
TFL_DEFINE_KERNEL16(squared_difference_int16, 99, "SQUARED_DIFFERENCE", squared_difference_prepare,
                    squared_difference_eval16);

static tfl_status squared_difference_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in1, *in2, *out;
  tfl_squared_difference_data d;
  int wide = 0;
  memset(&d, 0, sizeof d);
  out = tfl_node_output(ctx, node, 0);
  if (out != NULL && out->type == TFL_TYPE_INT32) {
    d.int32 = 1;
    TFL_ENSURE(tfl_broadcast_prepare_minmax(ctx, node)); /* three int32 tensors that broadcast */
    return tfl_node_set_data(node, &d, sizeof d);
  }
  /* all int8, or all int16 with zero points 0; quantized; shapes that broadcast */
  TFL_ENSURE(tfl_broadcast_prepare_wide(ctx, node, &in1, &in2, &out, &wide));
  d.in1.zero_point = in1->zero_point;
  d.in2.zero_point = in2->zero_point;
  d.output_zero_point = out->zero_point;
  const double twice_max = 2.0 * (double)(in1->scale > in2->scale ? in1->scale : in2->scale);
  TFL_ENSURE(sqdiff_small((double)in1->scale / twice_max, &d.in1.multiplier, &d.in1.shift));
  TFL_ENSURE(sqdiff_small((double)in2->scale / twice_max, &d.in2.multiplier, &d.in2.shift));
  const double out_real =
      (twice_max * twice_max) / (double)((float)(wide ? 1 : 1 << 14) * out->scale);
  if (!(out_real > 0.0)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier(out_real, &d.output_multiplier, &d.output_shift);
  if (TFL_WITH_INT16 && wide) node->kernel = &squared_difference_int16; /* from now on */
  return tfl_node_set_data(node, &d, sizeof d);
}

/* One broadcast row over int8 (wide = 0: inputs << 7) or int16 (wide = 1) elements; `wide` is a
 * constant at each call site. */
TFL_BINARY_INLINE void sqdiff_run(const tfl_squared_difference_data *d, const void *in1,
                                  int32_t step1, const void *in2, int32_t step2, void *out,
                                  int32_t n, int wide) {
  const int32_t lo = wide ? -32768 : -128;
  const int32_t hi = wide ? 32767 : 127;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t a = tfl_multiply_by_quantized_multiplier(
        (tfl_binary_load(in1, i * step1, wide) - d->in1.zero_point) * (wide ? 1 : 128),
        d->in1.multiplier, d->in1.shift);
    const int32_t b = tfl_multiply_by_quantized_multiplier(
        (tfl_binary_load(in2, i * step2, wide) - d->in2.zero_point) * (wide ? 1 : 128),
        d->in2.multiplier, d->in2.shift);
    const int32_t diff = a - b;
    const int64_t r = (int64_t)tfl_multiply_by_quantized_multiplier(
                          diff * diff, d->output_multiplier, d->output_shift) +
                      d->output_zero_point; /* int64: defined for any requantized value */
    tfl_binary_store(out, i, (int32_t)(r < lo ? lo : (r > hi ? hi : r)), wide);
  }
}

static void squared_difference_row(const void *params, const int8_t *in1, int32_t step1,
                                   const int8_t *in2, int32_t step2, int8_t *out, int32_t n) {
  sqdiff_run((const tfl_squared_difference_data *)params, in1, step1, in2, step2, out, n, 0);
}

static void squared_difference_row16(const void *params, const int16_t *in1, int32_t step1,
                                     const int16_t *in2, int32_t step2, int16_t *out, int32_t n) {
  sqdiff_run((const tfl_squared_difference_data *)params, in1, step1, in2, step2, out, n, 1);
}

static tfl_status squared_difference_eval16(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_eval16(ctx, node, squared_difference_row16);
}

static void squared_difference_row_int32(const void *params, const int8_t *in1, int32_t step1,
                                         const int8_t *in2, int32_t step2, int8_t *out, int32_t n) {
  int32_t i;
  (void)params;
  for (i = 0; i < n; ++i) {
    const uint32_t diff =
        (uint32_t)tfl_broadcast_i32(in1, i, step1) - (uint32_t)tfl_broadcast_i32(in2, i, step2);
    const int32_t r = (int32_t)(diff * diff); /* two's complement (GCC, Clang, armcc) */
    memcpy(out + (size_t)i * 4, &r, 4);
  }
}

static tfl_status squared_difference_eval(tfl_context *ctx, tfl_node *node) {
  tfl_squared_difference_data d;
  memcpy(&d, node->data, sizeof d);
  if (d.int32) {
    tfl_broadcast_run_sized(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1),
                            tfl_node_output(ctx, node, 0), squared_difference_row_int32, NULL, 4,
                            4);
    return TFL_OK;
  }
  return tfl_broadcast_eval(ctx, node, squared_difference_row);
}

TFL_DEFINE_KERNEL(squared_difference, 99, "SQUARED_DIFFERENCE", squared_difference_prepare,
                  squared_difference_eval);
