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

/* sigmoid(i / 24) * 2^16 (saturated to 65535) for i = 0..255, the values TFLM's reference
 * kernels use (measured from its int16 TANH: scripts/measure_sigmoid_table.py). */
extern const uint16_t tfl_sigmoid_table_u16[256];

/* Q0.15 sigmoid of an int16 value v in Q3.12. */
int16_t tfl_lut16_sigmoid(int32_t v);
/* Q0.15 tanh of (v * multiplier + round) >> right_shift; the LSTM's cell state uses
 * multiplier 3 << k (right_shift 0) or 3 with right_shift > 0, its gates multiplier 3. */
int16_t tfl_lut16_tanh(int32_t v, int32_t multiplier, int32_t right_shift);

#endif
