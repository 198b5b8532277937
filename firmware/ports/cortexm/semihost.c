/* Program exit through Arm semihosting (QEMU runs with -semihosting-config enable=on). */
#include <stdint.h>

#include "tfl_port.h"

#define TFL_SEMIHOST_SYS_EXIT 0x18u
#define TFL_SEMIHOST_SYS_EXIT_EXTENDED 0x20u
#define TFL_ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define TFL_ADP_STOPPED_RUNTIME_ERROR 0x20023u

static uint32_t tfl_semihost_call(uint32_t op, uint32_t arg) {
  register uint32_t r0 __asm("r0") = op;
  register uint32_t r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void tfl_port_exit(int code) {
  /* SYS_EXIT_EXTENDED carries the full exit status; plain SYS_EXIT (32-bit Arm) only
   * distinguishes success from failure, so it is the fallback. */
  uint32_t block[2];
  block[0] = TFL_ADP_STOPPED_APPLICATION_EXIT;
  block[1] = (uint32_t)code;
  (void)tfl_semihost_call(TFL_SEMIHOST_SYS_EXIT_EXTENDED, (uint32_t)(uintptr_t)block);
  (void)tfl_semihost_call(TFL_SEMIHOST_SYS_EXIT, code == 0 ? TFL_ADP_STOPPED_APPLICATION_EXIT
                                                           : TFL_ADP_STOPPED_RUNTIME_ERROR);
  for (;;) {
  }
}
