/* Board support the harness needs, implemented once per board family in firmware/ports/<port>/:
 * a byte serial link, a free-running tick counter and a way to stop. */
#ifndef TFL_PORT_H
#define TFL_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks, serial port (115200 8N1 where a baud rate matters) and tick counter. */
void tfl_port_init(void);

/* Blocking write of len bytes to the serial port. */
void tfl_port_write(const uint8_t *data, size_t len);

/* Blocking read of one byte; returns the byte (0..255), or -1 when the link has ended
 * (host build: end of stdin). */
int tfl_port_read_byte(void);

/* Free-running 32-bit tick counter (wraps). */
uint32_t tfl_port_ticks(void);

/* Starts a measurement: returns tfl_port_ticks() at a point from which later ticks fall at
 * fixed distances. On SysTick under `qemu -icount shift=0` this restarts the counter's phase, so
 * an interval measured from here is the same count on every run (without it the phase, set by
 * how long the CPU waited for serial input, makes intervals jitter by one tick). Elsewhere it is
 * tfl_port_ticks(). Intervals stay monotonic across the call. */
uint32_t tfl_port_ticks_restart(void);

/* What one tick is, e.g. "cycle" (DWT CYCCNT), "40 instructions (SysTick, qemu -icount 0)",
 * "microsecond". */
const char *tfl_port_tick_unit(void);

/* Ends the program: semihosting exit on QEMU, exit() on the host, a halt loop on hardware. */
void tfl_port_exit(int code);

#ifdef __cplusplus
}
#endif
#endif
