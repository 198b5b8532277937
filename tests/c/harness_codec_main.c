/* Differential test driver for the harness frame codec (tests/test_link.py): records on stdin,
 * results on stdout, the codec's serial output captured in memory.
 *   'E' u32 n, n bytes (type, seq, payload)  -> u32 m, the m wire bytes tfl_tx_* produced
 *   'D' u32 n, n wire bytes                  -> for every delimiter: u8 tfl_rx_result, u32 len,
 *                                               the decoded bytes when the result is a frame;
 *                                               then 0xEE as the end of this record's results
 * The receive buffer holds HARNESS_CODEC_RX bytes, so overflow is exercised too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfl_harness_internal.h"
#include "tfl_port.h"

#define HARNESS_CODEC_RX 300u
#define HARNESS_CODEC_MAX 100000u

static uint8_t captured[3 * HARNESS_CODEC_MAX];
static size_t captured_len;

void tfl_port_write(const uint8_t *data, size_t len) {
  if (len > sizeof captured - captured_len) {
    fprintf(stderr, "capture overflow\n");
    exit(3);
  }
  memcpy(captured + captured_len, data, len);
  captured_len += len;
}

static void put_u32(uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  fwrite(b, 1, 4, stdout);
}

int main(void) {
  static uint8_t input[HARNESS_CODEC_MAX];
  static uint8_t rx_buf[HARNESS_CODEC_RX];
  static tfl_tx tx;
  tfl_rx rx;
  int op;
  tfl_rx_init(&rx, rx_buf, sizeof rx_buf);
  while ((op = getchar()) != EOF) {
    uint8_t nb[4];
    uint32_t n;
    uint32_t i;
    if (fread(nb, 1, 4, stdin) != 4) {
      return 2;
    }
    n = tfl_get_u32le(nb);
    if (n > HARNESS_CODEC_MAX || fread(input, 1, n, stdin) != n) {
      return 2;
    }
    if (op == 'E') {
      if (n < 2) {
        return 2;
      }
      captured_len = 0;
      tfl_tx_begin(&tx, input[0], input[1], n - 2u);
      /* in uneven pieces, as the harness writes fields */
      for (i = 2; i < n; i += 7u) {
        tfl_tx_bytes(&tx, input + i, (n - i) < 7u ? (n - i) : 7u);
      }
      tfl_tx_end(&tx);
      put_u32((uint32_t)captured_len);
      fwrite(captured, 1, captured_len, stdout);
    } else if (op == 'D') {
      for (i = 0; i < n; ++i) {
        if (input[i] != 0) {
          tfl_rx_push(&rx, input[i]);
        } else {
          tfl_rx_result r = tfl_rx_finish(&rx);
          putchar((int)r);
          put_u32(r == TFL_RX_FRAME ? (uint32_t)rx.len : 0u);
          if (r == TFL_RX_FRAME) {
            fwrite(rx.buf, 1, rx.len, stdout);
          }
        }
      }
      putchar(0xEE);
    } else {
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
