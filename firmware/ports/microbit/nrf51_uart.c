/* nRF51 UART0 (BBC micro:bit, QEMU `microbit`): polled transmit and receive.
 * Tasks STARTRX +0x000, STARTTX +0x008; events RXDRDY +0x108, TXDRDY +0x11C; ENABLE +0x500
 * (4 = enabled), PSELTXD +0x50C, PSELRXD +0x514, RXD +0x518, TXD +0x51C, BAUDRATE +0x524. */
#include <stdint.h>

#include "cortexm.h"

#define TFL_NRF_UART(offset) TFL_REG32(TFL_PORT_UART_BASE + (offset))
#define TFL_NRF_TASKS_STARTRX TFL_NRF_UART(0x000u)
#define TFL_NRF_TASKS_STARTTX TFL_NRF_UART(0x008u)
#define TFL_NRF_EVENTS_RXDRDY TFL_NRF_UART(0x108u)
#define TFL_NRF_EVENTS_TXDRDY TFL_NRF_UART(0x11Cu)
#define TFL_NRF_ENABLE TFL_NRF_UART(0x500u)
#define TFL_NRF_PSELTXD TFL_NRF_UART(0x50Cu)
#define TFL_NRF_PSELRXD TFL_NRF_UART(0x514u)
#define TFL_NRF_RXD TFL_NRF_UART(0x518u)
#define TFL_NRF_TXD TFL_NRF_UART(0x51Cu)
#define TFL_NRF_BAUDRATE TFL_NRF_UART(0x524u)

#define TFL_NRF_BAUD_115200 0x01D7E000u
#define TFL_MICROBIT_TX_PIN 24u /* micro:bit USB serial pins P0.24 (TX) and P0.25 (RX) */
#define TFL_MICROBIT_RX_PIN 25u

void tfl_uart_init(void) {
  TFL_NRF_PSELTXD = TFL_MICROBIT_TX_PIN;
  TFL_NRF_PSELRXD = TFL_MICROBIT_RX_PIN;
  TFL_NRF_BAUDRATE = TFL_NRF_BAUD_115200;
  TFL_NRF_ENABLE = 4u;
  TFL_NRF_EVENTS_TXDRDY = 0u;
  TFL_NRF_EVENTS_RXDRDY = 0u;
  TFL_NRF_TASKS_STARTTX = 1u;
  TFL_NRF_TASKS_STARTRX = 1u;
}

void tfl_uart_put(uint8_t byte) {
  TFL_NRF_TXD = byte;
  while (TFL_NRF_EVENTS_TXDRDY == 0u) {
  }
  TFL_NRF_EVENTS_TXDRDY = 0u;
}

int tfl_uart_get(void) {
  while (TFL_NRF_EVENTS_RXDRDY == 0u) {
  }
  TFL_NRF_EVENTS_RXDRDY = 0u;
  return (int)(TFL_NRF_RXD & 0xFFu);
}
