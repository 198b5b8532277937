/* libFuzzer target 2: an arbitrary byte stream on the device harness's serial link.
 *
 * Two layers are fed the same stream:
 *  1. the COBS frame decoder (tfl_rx_push / tfl_rx_finish) alone, decoding into a heap block of
 *     exactly its capacity, so ASan sees a single byte written past the receive buffer;
 *  2. the whole harness (tfl_harness_main: the protocol server over the runtime backend, frame
 *     checks, INFO/INPUT/INVOKE/LAYERS/RESET with a small real model), through a port whose
 *     read_byte returns the stream and whose exit longjmps back here. Byte 0 of the stream picks
 *     the scenario: even = the model initialises, odd = init fails for lack of arena (every
 *     request must then be answered NOT_READY).
 * Every byte the harness writes is checked by an independent decoder: after the banner line the
 * output must be a sequence of well-formed frames (0x00-delimited COBS, length field equal to the
 * payload length, CRC-16 correct). A malformed reply is a finding (__builtin_trap). */
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tfl_harness.h"
#include "tfl_harness_internal.h"
#include "tfl_kernel.h"
#include "tfl_port.h"

#define TFL_KERNEL(lower, code, name) extern const tfl_kernel tfl_kernel_##lower;
#include "tfl_kernels.h"
#undef TFL_KERNEL

static const tfl_kernel *const all_kernels[] = {
#define TFL_KERNEL(lower, code, name) &tfl_kernel_##lower,
#include "tfl_kernels.h"
#undef TFL_KERNEL
    NULL};

/* Written by tests/fuzz/fuzzlib.py from a small model built with tests/support/tflbuilder.py. */
extern const uint8_t fuzz_harness_model[];
extern const uint32_t fuzz_harness_model_size;
extern const uint8_t fuzz_harness_model_sha256[32];

#define FUZZ_TENSORS 32
#define FUZZ_NODES 16
#define FUZZ_POOL 1024
#define FUZZ_ARENA 4096

static tfl_tensor tensors[FUZZ_TENSORS];
static tfl_node nodes[FUZZ_NODES];
static int32_t pool[FUZZ_POOL];
static uint8_t arena[FUZZ_ARENA] __attribute__((aligned(16)));

/* ---- the port: input from the fuzz data, output into the frame checker ------------------- */

static const uint8_t *in_data;
static size_t in_size, in_pos;
static jmp_buf exit_jump;
static uint32_t ticks;

/* output checker state */
static int banner_done;
static uint8_t frame[1 << 16];
static size_t frame_len;
static int frame_overflow;
static uint8_t block_left; /* COBS data bytes left in the current block */
static uint8_t implied_zero;
static uint32_t frames_out;

static uint16_t crc16(const uint8_t *p, size_t n) {
  uint16_t crc = 0xFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= (uint16_t)(p[i] << 8);
    for (int b = 0; b < 8; ++b)
      crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
  }
  return crc;
}

static void out_frame_end(void) {
  if (frame_len == 0 && block_left == 0 && !frame_overflow) return; /* empty: leading delimiter */
  if (block_left != 0 || frame_overflow) __builtin_trap();          /* truncated COBS block */
  if (frame_len < 8) __builtin_trap();
  uint32_t plen = (uint32_t)frame[2] | ((uint32_t)frame[3] << 8) | ((uint32_t)frame[4] << 16) |
                  ((uint32_t)frame[5] << 24);
  if (plen != frame_len - 8) __builtin_trap(); /* length field disagrees with the payload */
  uint16_t want = (uint16_t)(frame[frame_len - 2] | (frame[frame_len - 1] << 8));
  if (crc16(frame, frame_len - 2) != want) __builtin_trap();
  frames_out++;
  frame_len = 0;
  implied_zero = 0;
}

static void out_byte(uint8_t c) {
  if (!banner_done) {
    if (c == '\n')
      banner_done = 1;
    else if (c < 0x20 || c > 0x7E)
      __builtin_trap(); /* the banner is one printable line */
    return;
  }
  if (c == 0) {
    out_frame_end();
    frame_len = 0;
    block_left = 0;
    implied_zero = 0;
    frame_overflow = 0;
    return;
  }
  if (block_left == 0) {
    if (implied_zero) {
      if (frame_len < sizeof frame)
        frame[frame_len++] = 0;
      else
        frame_overflow = 1;
    }
    block_left = (uint8_t)(c - 1u);
    implied_zero = c != 0xFFu;
    return;
  }
  if (frame_len < sizeof frame)
    frame[frame_len++] = c;
  else
    frame_overflow = 1;
  block_left--;
}

void tfl_port_init(void) {}

void tfl_port_write(const uint8_t *data, size_t len) {
  for (size_t i = 0; i < len; ++i) out_byte(data[i]);
}

int tfl_port_read_byte(void) { return in_pos < in_size ? (int)in_data[in_pos++] : -1; }

uint32_t tfl_port_ticks(void) { return ticks += 7u; }

uint32_t tfl_port_ticks_restart(void) { return ticks += 7u; }

const char *tfl_port_tick_unit(void) { return "fuzz"; }

void tfl_port_exit(int code) { longjmp(exit_jump, code + 1); }

/* ---- layer 1: the decoder alone ------------------------------------------------------------ */

static void fuzz_decoder(const uint8_t *data, size_t size) {
  const size_t capacity = TFL_RX_CAPACITY;
  uint8_t *buf = (uint8_t *)malloc(capacity);
  if (buf == NULL) return;
  tfl_rx rx;
  tfl_rx_init(&rx, buf, capacity);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] != 0) {
      tfl_rx_push(&rx, data[i]);
      if (rx.len > capacity) __builtin_trap();
      continue;
    }
    tfl_rx_result r = tfl_rx_finish(&rx);
    if (r == TFL_RX_FRAME) {
      volatile uint8_t sink = 0;
      for (size_t k = 0; k < rx.len; ++k) sink ^= rx.buf[k]; /* every decoded byte is readable */
      (void)sink;
    } else if (rx.len != 0) {
      __builtin_trap(); /* a rejected frame leaves nothing behind */
    }
  }
  free(buf);
}

/* ---- layer 2: the whole harness ------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const tfl_op_table ops = {
      all_kernels, (int32_t)(sizeof all_kernels / sizeof all_kernels[0]) - 1, NULL, 0};
  static tfl_harness_config config;
  fuzz_decoder(data, size);
  if (size == 0) return 0;

  memset(&config, 0, sizeof config);
  config.model = fuzz_harness_model;
  config.model_size = fuzz_harness_model_size;
  config.model_sha256 = fuzz_harness_model_sha256;
  config.ops = &ops;
  config.memory.tensors = tensors;
  config.memory.tensor_capacity = FUZZ_TENSORS;
  config.memory.nodes = nodes;
  config.memory.node_capacity = FUZZ_NODES;
  config.memory.pool = pool;
  config.memory.pool_words = FUZZ_POOL;
  config.memory.arena = arena;
  config.memory.arena_bytes = (data[0] & 1u) ? 16 : FUZZ_ARENA;
  config.planned_arena_bytes = FUZZ_ARENA;
  config.board = "fuzz";

  in_data = data + 1;
  in_size = size - 1;
  in_pos = 0;
  banner_done = 0;
  frame_len = 0;
  frame_overflow = 0;
  block_left = 0;
  implied_zero = 0;
  if (setjmp(exit_jump) == 0) {
    tfl_harness_main(&config);
    __builtin_trap(); /* tfl_harness_main never returns */
  }
  /* the link ended: whatever was written last must be a complete frame (or nothing) */
  if (banner_done && (frame_len != 0 || block_left != 0)) __builtin_trap();
  return 0;
}
