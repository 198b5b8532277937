/* Reset handler and vector table for the QEMU Cortex-M boards. The linker script provides the
 * section symbols and places .isr_vector first in the code region. */
#include <stdint.h>

#include "cortexm.h"
#include "tfl_port.h"

extern uint32_t __data_load[];
extern uint32_t __data_start[];
extern uint32_t __data_end[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];
extern uint32_t __stack_top[];

int main(void);
void tfl_reset_handler(void);
void tfl_fault_handler(void);
void tfl_systick_handler(void);

void tfl_reset_handler(void) {
  uint32_t *src = __data_load;
  uint32_t *dst = __data_start;
  while (dst < __data_end) {
    *dst++ = *src++;
  }
  for (dst = __bss_start; dst < __bss_end; ++dst) {
    *dst = 0u;
  }
#if defined(__ARM_FP)
  /* Full access to coprocessors 10 and 11 (the FPU) before any floating-point instruction. */
  TFL_SCB_CPACR |= (0xFu << 20);
  __asm volatile("dsb\n\tisb" ::: "memory");
#endif
  tfl_port_exit(main());
}

/* Any fault or unexpected interrupt: leave QEMU with a distinctive exit status. */
void tfl_fault_handler(void) {
  static const char message[] = "\ntinyflash: processor fault\n";
  tfl_port_write((const uint8_t *)message, sizeof message - 1u);
  tfl_port_exit(134);
}

typedef void (*tfl_vector)(void);

/* 16 system exceptions followed by 32 external interrupts, all treated as faults except SysTick.
 * Entry 0 is the initial stack pointer. Kept as a table (clang-format off): IRQs four to a row. */
/* clang-format off */
__attribute__((section(".isr_vector"), used)) static const tfl_vector tfl_vectors[48] = {
    (tfl_vector)(uintptr_t)__stack_top,
    tfl_reset_handler,
    tfl_fault_handler, /* NMI */
    tfl_fault_handler, /* HardFault */
    tfl_fault_handler, /* MemManage */
    tfl_fault_handler, /* BusFault */
    tfl_fault_handler, /* UsageFault */
    tfl_fault_handler, /* SecureFault (v8-M) */
    0, 0, 0,
    tfl_fault_handler, /* SVCall */
    tfl_fault_handler, /* DebugMonitor */
    0,
    tfl_fault_handler, /* PendSV */
    tfl_systick_handler,
    tfl_fault_handler, tfl_fault_handler, tfl_fault_handler, tfl_fault_handler,
    tfl_fault_handler, tfl_fault_handler, tfl_fault_handler, tfl_fault_handler,
    tfl_fault_handler, tfl_fault_handler, tfl_fault_handler, tfl_fault_handler,
    tfl_fault_handler, tfl_fault_handler, tfl_fault_handler, tfl_fault_handler,
    tfl_fault_handler, tfl_fault_handler, tfl_fault_handler, tfl_fault_handler,
    tfl_fault_handler, tfl_fault_handler, tfl_fault_handler, tfl_fault_handler,
    tfl_fault_handler, tfl_fault_handler, tfl_fault_handler, tfl_fault_handler,
    tfl_fault_handler, tfl_fault_handler, tfl_fault_handler, tfl_fault_handler,
};
/* clang-format on */
