/* CRC-16/CCITT-FALSE, bit by bit: no table, so it costs no flash (frames are short and the serial
 * line is the bottleneck). Check value of "123456789" is 0x29B1. */
#include "tfl_harness_internal.h"

uint16_t tfl_crc16_update(uint16_t crc, const uint8_t *data, size_t len) {
  size_t i;
  for (i = 0; i < len; ++i) {
    int bit;
    crc = (uint16_t)(crc ^ ((uint16_t)data[i] << 8));
    for (bit = 0; bit < 8; ++bit) {
      if (crc & 0x8000u) {
        crc = (uint16_t)((crc << 1) ^ 0x1021u);
      } else {
        crc = (uint16_t)(crc << 1);
      }
    }
  }
  return crc;
}
