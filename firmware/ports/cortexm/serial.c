/* tfl_port.h serial and init on top of a port's byte UART, plus newlib's _write so that
 * printf() on stdout/stderr goes to the same serial port. */
#include <stddef.h>
#include <stdint.h>

#include "cortexm.h"
#include "tfl_port.h"

void tfl_port_init(void) {
  tfl_uart_init();
  tfl_cortexm_tick_init();
}

void tfl_port_write(const uint8_t *data, size_t len) {
  size_t i;
  if (data == NULL) {
    return;
  }
  for (i = 0; i < len; ++i) {
    tfl_uart_put(data[i]);
  }
}

int tfl_port_read_byte(void) { return tfl_uart_get(); }

int _write(int fd, const char *data, int len);

int _write(int fd, const char *data, int len) {
  if ((fd != 1 && fd != 2) || data == NULL || len < 0) {
    return -1;
  }
  tfl_port_write((const uint8_t *)data, (size_t)len);
  return len;
}
