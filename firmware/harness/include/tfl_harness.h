/* Device side of the tinyflash verification protocol (docs/protocol.md). The generated main()
 * fills a tfl_harness_config and calls tfl_harness_main(), which never returns.
 * The struct below is unchanged from the contract; the only addition is the build option
 * TFL_HARNESS_MAX_PAYLOAD (boards with little RAM may pass a smaller -D value). */
#ifndef TFL_HARNESS_H
#define TFL_HARNESS_H

#include <stdint.h>

/* Largest payload of a host -> device frame, in bytes; the receive buffer is this plus 8.
 * Inputs larger than one frame are sent in INPUT chunks (docs/protocol.md). Replies from the
 * device are streamed and have no such limit. Must be at least 64. */
#ifndef TFL_HARNESS_MAX_PAYLOAD
#define TFL_HARNESS_MAX_PAYLOAD 1024
#endif

#include "tfl_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One embedded self-test vector: the model's input bytes and the output bytes the tflite-micro
 * reference produced for them (all inputs, then all outputs, concatenated in tensor order). */
typedef struct tfl_selftest_vector {
  const uint8_t *input;
  uint32_t input_bytes;
  const uint8_t *expected_output;
  uint32_t output_bytes;
} tfl_selftest_vector;

typedef struct tfl_harness_config {
  const uint8_t *model;
  uint32_t model_size;
  const uint8_t *model_sha256; /* 32 bytes */
  const tfl_op_table *ops;
  tfl_memory memory;
  int32_t planned_arena_bytes; /* from the memory plan, reported by INFO */
  const tfl_selftest_vector *selftest;
  int32_t selftest_count;
  const char *board;           /* board id, reported by INFO */
} tfl_harness_config;

/* Initialises the port and the interpreter, runs the self-test vectors, prints one ASCII banner
 * line ("tinyflash ready selftest=PASS ...\n" — see docs/protocol.md), then serves protocol
 * frames until the link ends. */
void tfl_harness_main(const tfl_harness_config *config);

#ifdef __cplusplus
}
#endif
#endif
