/* Arm CMSDK APB UART (MPS2 and MPS3 FPGA images): polled transmit and receive.
 * Registers: DATA +0x0, STATE +0x4 (bit 0 TX full, bit 1 RX full), CTRL +0x8 (bit 0 TX enable,
 * bit 1 RX enable), BAUDDIV +0x10. The base address comes from the board manifest. */
#include <stdint.h>

#include "cortexm.h"

#define TFL_UART_DATA TFL_REG32(TFL_PORT_UART_BASE + 0x00u)
#define TFL_UART_STATE TFL_REG32(TFL_PORT_UART_BASE + 0x04u)
#define TFL_UART_CTRL TFL_REG32(TFL_PORT_UART_BASE + 0x08u)
#define TFL_UART_BAUDDIV TFL_REG32(TFL_PORT_UART_BASE + 0x10u)

#define TFL_UART_STATE_TX_FULL 0x1u
#define TFL_UART_STATE_RX_FULL 0x2u
#define TFL_UART_BAUD 115200u

void tfl_uart_init(void) {
  TFL_UART_CTRL = 0u;
  TFL_UART_BAUDDIV = TFL_PORT_UART_CLOCK_HZ / TFL_UART_BAUD; /* at least 16 */
  TFL_UART_CTRL = 0x3u;                                       /* TX and RX enabled */
}

void tfl_uart_put(uint8_t byte) {
  while ((TFL_UART_STATE & TFL_UART_STATE_TX_FULL) != 0u) {
  }
  TFL_UART_DATA = byte;
}

int tfl_uart_get(void) {
  while ((TFL_UART_STATE & TFL_UART_STATE_RX_FULL) == 0u) {
  }
  return (int)(TFL_UART_DATA & 0xFFu);
}
