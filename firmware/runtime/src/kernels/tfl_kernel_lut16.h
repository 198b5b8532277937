/* The int16 sigmoid and tanh of TFLite's integer LSTM (TFLM's reference arithmetic): a 256-entry
 * table of sigmoid(i / 24) in unsigned 0.16 format, linear interpolation between entries, and
 * tanh(x) = 2 * sigmoid(2x) - 1 from the same table.
 *
 * Both functions take int16 values in Q3.12 (the gate pre-activations) times 3 before the lookup:
 * |x * 3| / 2^9 (sigmoid) or / 2^8 (tanh) is the table index, so the table spans
 * |x| < 256 * 512 / 3 / 2^12 = 10.67, where sigmoid has reached 1 - 2^-16. Results are Q0.15. */
#ifndef TFL_KERNEL_LUT16_H
#define TFL_KERNEL_LUT16_H

#include <stdint.h>

#include "tfl_kernel.h"

/* sigmoid(i / 24) * 2^16 (saturated to 65535) for i = 0..255, the values TFLM's reference
 * kernels use (measured from its int16 TANH: scripts/measure_sigmoid_table.py). */
extern const uint16_t tfl_sigmoid_table_u16[256];

/* Q0.15 sigmoid of (v * multiplier + round) >> right_shift, a value in the table's scale
 * 1 / (3 * 4096) (multiplier <= 32767, right_shift 0..31). */
int16_t tfl_lut16_sigmoid_scaled(int32_t v, int32_t multiplier, int32_t right_shift);
/* Q0.15 sigmoid of an int16 value v in Q3.12 (tfl_lut16_sigmoid_scaled with multiplier 3). */
int16_t tfl_lut16_sigmoid(int32_t v);
/* Q0.15 tanh of (v * multiplier + round) >> right_shift; the LSTM's cell state uses
 * multiplier 3 << k (right_shift 0) or 3 with right_shift > 0, its gates multiplier 3. */
int16_t tfl_lut16_tanh(int32_t v, int32_t multiplier, int32_t right_shift);

/* ---- the int16 LOGISTIC and TANH kernels (16x8), TFLM's reference arithmetic ---------- */

enum { TFL_LUT16_LOGISTIC = 0, TFL_LUT16_TANH = 1 };

/* Node data of the int16 LOGISTIC and TANH. */
typedef struct {
  int32_t function; /* TFL_LUT16_LOGISTIC or TFL_LUT16_TANH */
  int32_t multiplier;
  int32_t right_shift;
} tfl_lut16_params;
TFL_OP_DATA_FITS(tfl_lut16_params);

/* The int16 half of LOGISTIC's and TANH's prepare (`in`, `out` present): int16 types,
 * zero points 0, output scale 2^-15, input rescaled to the table's scale 1 / (3 * 4096) as TFLM
 * does (a power-of-two input scale 2^-12, or 2^-11 for TANH, within TFLM's 1e-3 tolerance on
 * log2 gives multiplier 3 << shift; any other scale a multiplier in (16383.5, 32767] and a right
 * shift). Fills node->data and makes the node run `kernel16` (whose eval is tfl_lut16_eval). */
TFL_MUST_CHECK tfl_status tfl_lut16_prepare(const tfl_tensor *in, const tfl_tensor *out,
                                            tfl_node *node, int32_t function,
                                            const tfl_kernel *kernel16);
/* The prepare of LOGISTIC (function TFL_LUT16_LOGISTIC) and TANH: input 0 and output 0 present;
 * an int16 node (16x8) goes to tfl_lut16_prepare, an int8 one needs int8 types and a quantized
 * input (LOGISTIC also a quantized output of scale 1/256, zero point -128), then
 * tfl_q4_input_prepare (tfl_kernel_fixedpoint.h). */
TFL_MUST_CHECK tfl_status tfl_logistic_tanh_prepare(tfl_context *ctx, tfl_node *node,
                                                    int32_t function, const tfl_kernel *kernel16);
/* y = sigmoid or tanh of every element of input 0 into output 0. Returns TFL_OK. */
tfl_status tfl_lut16_eval(tfl_context *ctx, tfl_node *node);

/* The kernel object `tfl_kernel_<lower>` of LOGISTIC or TANH (`function`) and its int16 variant:
 * prepare tfl_logistic_tanh_prepare, int8 eval tfl_q4_eval with `output` (include
 * tfl_kernel_fixedpoint.h), int16 eval tfl_lut16_eval. */
#define TFL_DEFINE_LOGISTIC_TANH(lower, code, text, function, output)              \
  TFL_DEFINE_KERNEL16(lower##_int16, code, text, lower##_prepare, tfl_lut16_eval); \
  static tfl_status lower##_prepare(tfl_context *ctx, tfl_node *node) {            \
    return tfl_logistic_tanh_prepare(ctx, node, function, &lower##_int16);         \
  }                                                                                \
  static tfl_status lower##_eval(tfl_context *ctx, tfl_node *node) {               \
    return tfl_q4_eval(ctx, node, output);                                         \
  }                                                                                \
  TFL_DEFINE_KERNEL(lower, code, text, lower##_prepare, lower##_eval)

#endif
