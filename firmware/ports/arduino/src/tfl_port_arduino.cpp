/* tinyflash port over the Arduino API (real boards: nano33ble, esp32dev, esp32-s3-devkitc-1,
 * pico, nucleo_f446re, nucleo_l4r5zi, disco_f746ng). Implements firmware/ports/include/tfl_port.h
 * with nothing but Serial, micros(), pinMode/digitalWrite, delay and yield, plus the Cortex-M DWT
 * cycle counter where the core has one.
 *
 * Build options (-D, set by the generated platformio.ini from the board manifest):
 *   TFL_PORT_BAUD        serial speed (default 115200; ignored by native-USB CDC ports)
 *   TFL_PORT_USE_DWT     1: ticks are DWT CYCCNT core cycles; 0: ticks are micros()
 *                        (default: 1 on ARMv7-M/ARMv7E-M/ARMv8-M mainline cores, else 0)
 *   TFL_PORT_DWT_BASE, TFL_PORT_DEMCR_ADDR
 *                        register addresses (defaults: the architectural 0xE0001000 and
 *                        0xE000EDFC); a host test points them at plain memory
 *   TFL_PORT_LED         status LED pin (default LED_BUILTIN)
 *   TFL_PORT_HAS_LED     0: no status LED (default: 1 when the core defines LED_BUILTIN)
 *   TFL_PORT_WAIT_USB_MS how long to wait for a native-USB host to open the port before the
 *                        banner (default 3000; the host asks INFO when it missed the banner)
 *
 * LED: on while the firmware initialises and serves the protocol; after tfl_port_exit(code)
 * it stays on for code 0 and blinks (250 ms) for any other code, in a halt loop. */
#include <Arduino.h>

#include <stdint.h>

#include "tfl_port.h"

#ifndef TFL_PORT_BAUD
#define TFL_PORT_BAUD 115200
#endif

#ifndef TFL_PORT_USE_DWT
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define TFL_PORT_USE_DWT 1
#else
#define TFL_PORT_USE_DWT 0
#endif
#endif

#ifndef TFL_PORT_WAIT_USB_MS
#define TFL_PORT_WAIT_USB_MS 3000
#endif

#ifndef TFL_PORT_HAS_LED
#if defined(LED_BUILTIN) || defined(TFL_PORT_LED)
#define TFL_PORT_HAS_LED 1
#else
#define TFL_PORT_HAS_LED 0
#endif
#endif
#if TFL_PORT_HAS_LED && !defined(TFL_PORT_LED)
#define TFL_PORT_LED LED_BUILTIN
#endif

#if TFL_PORT_USE_DWT
/* Armv7-M / Armv8-M debug registers: DEMCR.TRCENA (bit 24) powers the DWT; DWT_CTRL.CYCCNTENA
 * (bit 0) starts CYCCNT; Cortex-M7 parts also need the lock access register unlocked. */
#ifndef TFL_PORT_DWT_BASE
#define TFL_PORT_DWT_BASE 0xE0001000u
#endif
#ifndef TFL_PORT_DEMCR_ADDR
#define TFL_PORT_DEMCR_ADDR 0xE000EDFCu
#endif
#define TFL_DWT_REG(offset) (*(volatile uint32_t *)((uintptr_t)(TFL_PORT_DWT_BASE) + (offset)))
#define TFL_DWT_CTRL TFL_DWT_REG(0x000u)
#define TFL_DWT_CYCCNT TFL_DWT_REG(0x004u)
#define TFL_DWT_LAR TFL_DWT_REG(0xFB0u)
#define TFL_DEMCR (*(volatile uint32_t *)(uintptr_t)(TFL_PORT_DEMCR_ADDR))
#define TFL_DEMCR_TRCENA (1u << 24)
#define TFL_DWT_CYCCNTENA (1u << 0)
#define TFL_DWT_UNLOCK 0xC5ACCE55u
#endif

static void led(int on) {
#if TFL_PORT_HAS_LED
  digitalWrite(TFL_PORT_LED, on ? HIGH : LOW);
#else
  (void)on;
#endif
}

extern "C" void tfl_port_init(void) {
#if TFL_PORT_HAS_LED
  pinMode(TFL_PORT_LED, OUTPUT);
#endif
  led(1);
  Serial.begin(TFL_PORT_BAUD);
  /* Native-USB CDC ports (nRF52840, RP2040) are false until the host opens them. */
  unsigned long start = millis();
  while (!Serial && (unsigned long)(millis() - start) < (unsigned long)TFL_PORT_WAIT_USB_MS) {
    yield();
  }
#if TFL_PORT_USE_DWT
  TFL_DEMCR |= TFL_DEMCR_TRCENA;
  TFL_DWT_LAR = TFL_DWT_UNLOCK;
  TFL_DWT_CYCCNT = 0u;
  TFL_DWT_CTRL |= TFL_DWT_CYCCNTENA;
#endif
}

extern "C" void tfl_port_write(const uint8_t *data, size_t len) {
  while (len > 0u) {
    size_t n = Serial.write(data, len);
    if (n == 0u || n > len) {
      yield(); /* TX buffer full (or a core that reports nonsense): try again */
      continue;
    }
    data += n;
    len -= n;
  }
  Serial.flush();
}

extern "C" int tfl_port_read_byte(void) {
  for (;;) {
    if (Serial.available() > 0) {
      int c = Serial.read();
      if (c >= 0) {
        return c & 0xFF;
      }
    }
    yield();
  }
}

extern "C" uint32_t tfl_port_ticks(void) {
#if TFL_PORT_USE_DWT
  return TFL_DWT_CYCCNT;
#else
  return (uint32_t)micros();
#endif
}

extern "C" uint32_t tfl_port_ticks_restart(void) { return tfl_port_ticks(); }

extern "C" const char *tfl_port_tick_unit(void) {
#if TFL_PORT_USE_DWT
  return "cycle (DWT CYCCNT)";
#else
  return "microsecond (Arduino micros())";
#endif
}

extern "C" void tfl_port_exit(int code) {
  Serial.flush();
  for (;;) {
    if (code == 0) {
      led(1);
      delay(1000);
    } else {
      led(1);
      delay(250);
      led(0);
      delay(250);
    }
  }
}
