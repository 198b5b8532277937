/* The built-in runtime as the verification server's backend (tfl_server.h, docs/protocol.md).
 * The generated main() fills a tfl_harness_config and calls tfl_harness_main(), which never
 * returns. The struct below is unchanged from the contract. */
#ifndef TFL_HARNESS_H
#define TFL_HARNESS_H

#include <stdint.h>

#include "tfl_runtime.h"
#include "tfl_server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tfl_harness_config {
  const uint8_t *model;
  uint32_t model_size;
  const uint8_t *model_sha256; /* 32 bytes */
  const tfl_op_table *ops;
  tfl_memory memory;
  int32_t planned_arena_bytes; /* from the memory plan, reported by INFO */
  const tfl_selftest_vector *selftest;
  int32_t selftest_count;
  const char *board; /* board id, reported by INFO */
} tfl_harness_config;

/* Initialises the port and the interpreter, runs the self-test vectors, prints one ASCII banner
 * line ("tinyflash ready selftest=PASS ...\n" — see docs/protocol.md), then serves protocol
 * frames until the link ends (tfl_server_main over the runtime backend). */
void tfl_harness_main(const tfl_harness_config *config);

#ifdef __cplusplus
}
#endif
#endif
