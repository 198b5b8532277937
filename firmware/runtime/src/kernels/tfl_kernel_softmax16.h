/* int16 SOFTMAX's lookup tables and their interpolating lookup (TFLite's int16 table form: the
 * top 9 bits of the value pick an entry, the low 7 interpolate to the next one). */
#ifndef TFL_KERNEL_SOFTMAX16_H
#define TFL_KERNEL_SOFTMAX16_H

#include <stdint.h>

/* exp(x), x in [-10, 0] mapped onto int16 [-32768, 32767]; result Q0.15 (scale 2/65535). */
extern const int16_t tfl_softmax16_exp[513];
/* 1 / (1 + x), x in [0, 1] mapped onto int16 [-32768, 32767]; result Q0.15. */
extern const int16_t tfl_softmax16_recip[513];

static inline int16_t tfl_lut16_lookup(int32_t value, const int16_t *lut) {
  const int32_t index = 256 + (value >> 7); /* value in int16: 0 .. 511 */
  const int32_t offset = value & 0x7f;
  const int32_t slope = lut[index + 1] - lut[index];
  return (int16_t)(lut[index] + ((slope * offset + 64) >> 7));
}

#endif
