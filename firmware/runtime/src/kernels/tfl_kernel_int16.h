/* Shared pieces of the 16x8 paths (int16 activations, int8 weights): TFLM's requantization of an
 * int64 accumulator, and the checks that make it defined for every multiplier a model can hold.
 * Which kernels run 16x8 is listed in include/tfl_kernels_int16.h. */
#ifndef TFL_KERNEL_INT16_H
#define TFL_KERNEL_INT16_H

#include <stdint.h>
#include <string.h>

#include "tfl_kernel.h"

/* acc * quantized * 2^shift for an int64 accumulator, as TFLM's reference does it: the Q31
 * multiplier reduced to Q15 with rounding (saturated to 0x7FFF), then one rounding shift by
 * 15 - shift (half up). shift must be in [-48, 14] (tfl_int16_multipliers_ok); the product
 * wraps (two's complement) for accumulators beyond the 48 bits TFLM assumes. */
static inline int32_t tfl_requantize_int64(int64_t acc, int32_t quantized, int32_t shift) {
  const int64_t reduced = quantized < 0x7FFF0000 ? ((int64_t)quantized + (1 << 15)) >> 16 : 0x7FFF;
  const int32_t total = 15 - shift; /* 1 .. 63 */
  const uint64_t sum = (uint64_t)acc * (uint64_t)reduced + ((uint64_t)1 << (total - 1));
  const int64_t v = (int64_t)sum;
  /* arithmetic shift written without relying on implementation-defined >> of negatives */
  const int64_t shifted = v >= 0 ? v >> total : -(int64_t)((~(uint64_t)v) >> total) - 1;
  return (int32_t)(uint32_t)(uint64_t)shifted;
}

/* Element i of an int64 constant: the converter aligns int64 buffers to 4 bytes only. */
static inline int64_t tfl_load_i64(const void *base, int32_t i) {
  int64_t v;
  memcpy(&v, (const uint8_t *)base + (size_t)i * sizeof(v), sizeof(v));
  return v;
}

/* 1 when every (multiplier, shift) pair of a pool entry (multipliers then shifts, `count` each)
 * is in tfl_requantize_int64's range. */
static inline int tfl_int16_multipliers_ok(const int32_t *pool, int32_t count) {
  for (int32_t c = 0; c < count; ++c) {
    const int32_t shift = pool[count + c];
    if (pool[c] < 0 || shift > 14 || shift < -48) return 0;
  }
  return 1;
}

/* The output stage of a 16x8 weight op (FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D): channel
 * c's multiplier, its bias and the activation clamp. `wide`: TFLM's int64 form (int64 bias, or
 * none with an int64 bias type); else its int32 form (int32 bias: the sum wraps at 32 bits and
 * is requantized like int8). */
typedef struct {
  const int32_t *mult, *shift;
  int32_t qmask;    /* per-tensor weights: every channel reads index 0 */
  const void *bias; /* int64 (wide) or int32 values, NULL for none */
  int32_t wide;
  int32_t act_min, act_max;
} tfl_out16;

/* pool_index: the weight op's multipliers then shifts (tfl_conv_multipliers). */
static inline tfl_out16 tfl_out16_of(tfl_context *ctx, int32_t pool_index, const tfl_tensor *w,
                                     const tfl_tensor *bias, int wide, int32_t act_min,
                                     int32_t act_max) {
  tfl_out16 o;
  o.mult = ctx->mem.pool + pool_index;
  o.shift = o.mult + w->quant_count;
  o.qmask = w->quant_count > 1 ? -1 : 0;
  o.bias = bias != NULL ? bias->data : NULL;
  o.wide = bias != NULL ? bias->type == TFL_TYPE_INT64 : wide;
  o.act_min = act_min;
  o.act_max = act_max;
  return o;
}

/* Channel c's int16 output of the sum of x * w (summed wrapping in 64 bits). */
static inline int16_t tfl_out16_value(const tfl_out16 *o, uint64_t sum, int32_t c) {
  const int32_t q = c & o->qmask;
  int32_t v;
  if (o->wide) {
    if (o->bias != NULL) sum += (uint64_t)tfl_load_i64(o->bias, c);
    v = tfl_requantize_int64((int64_t)sum, o->mult[q], o->shift[q]);
  } else {
    uint32_t low = (uint32_t)sum;
    if (o->bias != NULL) low += (uint32_t)((const int32_t *)o->bias)[c];
    v = tfl_multiply_by_quantized_multiplier((int32_t)low, o->mult[q], o->shift[q]);
  }
  return (int16_t)tfl_clamp(v, o->act_min, o->act_max);
}

#endif
