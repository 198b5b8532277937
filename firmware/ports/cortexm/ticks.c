/* 32-bit free-running tick counter from the 24-bit SysTick down-counter: the wrap interrupt
 * counts periods of 2^24 ticks, and a read combines both halves.
 *
 * QEMU does not model the DWT cycle counter (CYCCNT reads as zero), so SysTick is the only
 * counter available on the emulated boards. With `-icount shift=0` every instruction advances
 * virtual time by 1 ns, so one tick is (10^9 / SysTick clock) instructions, exactly repeatable. */
#include <stdint.h>

#include "cortexm.h"
#include "tfl_port.h"

#define TFL_SYSTICK_RELOAD 0x00FFFFFFu

static volatile uint32_t tfl_tick_wraps;

void tfl_systick_handler(void);

void tfl_systick_handler(void) {
  /* Reading CSR clears COUNTFLAG; the interrupt itself marks one completed period. */
  (void)TFL_SYST_CSR;
  tfl_tick_wraps = tfl_tick_wraps + 1u;
}

void tfl_cortexm_tick_init(void) {
  TFL_SYST_CSR = 0u;
  TFL_SYST_RVR = TFL_SYSTICK_RELOAD;
  TFL_SYST_CVR = 0u; /* any write clears the counter; it reloads on the next clock */
  tfl_tick_wraps = 0u;
  TFL_SYST_CSR = 0x7u; /* ENABLE | TICKINT | CLKSOURCE=processor clock */
}

uint32_t tfl_port_ticks(void) {
  uint32_t high;
  uint32_t current;
  /* If the counter wrapped between the two reads, the interrupt has changed tfl_tick_wraps
   * (interrupts are enabled in thread mode): read again. */
  do {
    high = tfl_tick_wraps;
    current = TFL_SYST_CVR;
  } while (high != tfl_tick_wraps);
  return (high << 24) + (TFL_SYSTICK_RELOAD - current);
}

uint32_t tfl_port_ticks_restart(void) {
  /* Writing CVR clears the counter and it reloads on the next SysTick clock; from that write on,
   * the counter is a fixed function of the instructions executed. The software period count is
   * advanced by one so the combined value never goes backwards. The wrap interrupt is off
   * meanwhile, so it cannot count a period twice. */
  TFL_SYST_CSR = 0x5u; /* ENABLE | CLKSOURCE, no TICKINT */
  tfl_tick_wraps = tfl_tick_wraps + 1u;
  TFL_SYST_CVR = 0u;
  while (TFL_SYST_CVR == 0u) {
  }
  (void)TFL_SYST_CSR; /* clears COUNTFLAG left by the write */
  TFL_SYST_CSR = 0x7u;
  return tfl_port_ticks();
}

const char *tfl_port_tick_unit(void) { return TFL_PORT_TICK_UNIT; }
