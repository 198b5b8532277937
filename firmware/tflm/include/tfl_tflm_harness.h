/* TensorFlow Lite Micro as the verification server's backend, for firmware that runs its model
 * with tflite::MicroInterpreter (`tinyflash generate --runtime tflm`). The protocol, banner and
 * self-test are firmware/harness's server (tfl_server.c, docs/protocol.md), so `tinyflash verify`
 * works unchanged; this adapter (tfl_tflm_backend.cpp) only answers the tfl_backend_* calls.
 * What a host sees differently from the tinyflash runtime:
 *  - the runtime string in INFO is "tflm";
 *  - status codes are this adapter's (TFL_TFLM_* below) and the failing op index is -1
 *    (TFLM does not say which operator failed);
 *  - LAYERS runs the model once and replies with zero operator records and the whole run's
 *    ticks: TFLM's public API has no per-operator hook that could stream intermediate tensors,
 *    so per-op ticks and --per-layer divergence are not available (use the tinyflash runtime);
 *  - RESET rebuilds the interpreter in its arena (AllocateTensors again). */
#ifndef TFL_TFLM_HARNESS_H
#define TFL_TFLM_HARNESS_H

#include <stdint.h>

#include "tensorflow/lite/micro/micro_op_resolver.h"
#include "tfl_server.h"

/* Status codes of this adapter (INFO/RESET/ERROR frames carry them as u16). */
enum {
  TFL_TFLM_OK = 0,
  TFL_TFLM_NULL_ARGUMENT = 1,         /* no configuration (code and name of the runtime's) */
  TFL_TFLM_OP_RESOLVER = 0x7101,      /* an Add...() call of the generated resolver failed */
  TFL_TFLM_SCHEMA_VERSION = 0x7102,   /* the model's schema version is not TFLITE_SCHEMA_VERSION */
  TFL_TFLM_ALLOCATE_TENSORS = 0x7103, /* AllocateTensors() failed (arena too small?) */
  TFL_TFLM_INVOKE = 0x7104,           /* Invoke() failed */
  TFL_TFLM_TENSOR = 0x7105            /* an input/output tensor is missing or of no known type */
};

typedef struct tfl_tflm_config {
  const uint8_t *model; /* the flatbuffer, 16-byte aligned */
  uint32_t model_size;
  const uint8_t *model_sha256; /* 32 bytes */
  const tflite::MicroOpResolver *resolver;
  int32_t resolver_status; /* 0, or 1 + the index of the first Add...() that failed */
  uint8_t *arena;          /* 16-byte aligned */
  uint32_t arena_bytes;
  int32_t planned_arena_bytes; /* reported by INFO */
  const tfl_selftest_vector *selftest;
  int32_t selftest_count;
  const char *board; /* board id, reported by INFO */
} tfl_tflm_config;

/* Initialises the port and the interpreter, runs the self-test vectors, prints the banner line,
 * then serves protocol frames until the link ends (tfl_server_main over this backend). Never
 * returns. */
void tfl_tflm_harness_main(const tfl_tflm_config *config);

#endif
