/* Arm CMSDK APB UART (MPS2 and MPS3 FPGA images): polled transmit; receive sleeps in WFI until a
 * byte arrives, so a board waiting for the host costs (almost) no host CPU under QEMU.
 * Registers: DATA +0x0, STATE +0x4 (bit 0 TX full, bit 1 RX full), CTRL +0x8 (bit 0 TX enable,
 * bit 1 RX enable, bit 3 RX interrupt enable), INTSTATUS/INTCLEAR +0xC (bit 1 RX),
 * BAUDDIV +0x10. The base address comes from the board manifest.
 *
 * The RX interrupt is never taken: it is enabled in the NVIC only while PRIMASK masks it, which
 * still wakes WFI (ARMv7-M/ARMv8-M: a pending interrupt that PRIMASK alone masks ends WFI). Its
 * IRQ number differs per FPGA image, so every external interrupt is enabled for the wait (no other
 * peripheral raises one). SysTick's wrap interrupt (the tick counter's high half) also wakes WFI;
 * it is let through with the UART's interrupt disabled in the NVIC, so it is counted as before. */
#include <stdint.h>

#include "cortexm.h"

#define TFL_UART_DATA TFL_REG32(TFL_PORT_UART_BASE + 0x00u)
#define TFL_UART_STATE TFL_REG32(TFL_PORT_UART_BASE + 0x04u)
#define TFL_UART_CTRL TFL_REG32(TFL_PORT_UART_BASE + 0x08u)
#define TFL_UART_INTCLEAR TFL_REG32(TFL_PORT_UART_BASE + 0x0Cu)
#define TFL_UART_BAUDDIV TFL_REG32(TFL_PORT_UART_BASE + 0x10u)

#define TFL_SCB_ICSR TFL_REG32(0xE000ED04u)
#define TFL_SCB_ICSR_PENDSTSET (1u << 26)
#define TFL_NVIC_ISER 0xE000E100u /* set-enable bank */
#define TFL_NVIC_ICER 0xE000E180u /* clear-enable bank */
#define TFL_NVIC_ICPR 0xE000E280u /* clear-pending bank */
#define TFL_NVIC_WORDS 16u        /* 496 interrupts; unimplemented words ignore writes */

#define TFL_UART_STATE_TX_FULL 0x1u
#define TFL_UART_STATE_RX_FULL 0x2u
#define TFL_UART_CTRL_TX_RX 0x3u
#define TFL_UART_CTRL_RX_INT 0x8u
#define TFL_UART_INT_RX 0x2u
#define TFL_UART_BAUD 115200u

void tfl_uart_init(void) {
  TFL_UART_CTRL = 0u;
  TFL_UART_BAUDDIV = TFL_PORT_UART_CLOCK_HZ / TFL_UART_BAUD; /* at least 16 */
  TFL_UART_CTRL = TFL_UART_CTRL_TX_RX | TFL_UART_CTRL_RX_INT;
}

/* Writes `value` to every word of one NVIC register bank (ISER, ICER or ICPR). */
static void tfl_nvic_all(uint32_t bank, uint32_t value) {
  uint32_t n;
  for (n = 0u; n < TFL_NVIC_WORDS; ++n) {
    TFL_REG32(bank + 4u * n) = value;
  }
}

static void tfl_uart_wait_rx(void) {
  uint32_t primask;
  __asm volatile("mrs %0, primask" : "=r"(primask));
  __asm volatile("cpsid i" ::: "memory");
  tfl_nvic_all(TFL_NVIC_ISER, 0xFFFFFFFFu);
  while ((TFL_UART_STATE & TFL_UART_STATE_RX_FULL) == 0u) {
    __asm volatile("wfi" ::: "memory");
    if ((TFL_SCB_ICSR & TFL_SCB_ICSR_PENDSTSET) != 0u) {
      tfl_nvic_all(TFL_NVIC_ICER, 0xFFFFFFFFu); /* only SysTick may run now */
      __asm volatile("dsb\n\tcpsie i\n\tisb\n\tcpsid i" ::: "memory");
      tfl_nvic_all(TFL_NVIC_ISER, 0xFFFFFFFFu);
    }
  }
  tfl_nvic_all(TFL_NVIC_ICER, 0xFFFFFFFFu);
  TFL_UART_INTCLEAR = TFL_UART_INT_RX;
  tfl_nvic_all(TFL_NVIC_ICPR, 0xFFFFFFFFu);
  if (primask == 0u) {
    __asm volatile("cpsie i" ::: "memory");
  }
}

void tfl_uart_put(uint8_t byte) {
  while ((TFL_UART_STATE & TFL_UART_STATE_TX_FULL) != 0u) {
  }
  TFL_UART_DATA = byte;
}

int tfl_uart_get(void) {
  if ((TFL_UART_STATE & TFL_UART_STATE_RX_FULL) == 0u) {
    tfl_uart_wait_rx();
  }
  return (int)(TFL_UART_DATA & 0xFFu);
}
