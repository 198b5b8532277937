/* The device side of tinyflash's verification protocol (docs/protocol.md), written once in C:
 * frames (COBS, CRC-16), INFO/INPUT/INVOKE/LAYERS/RESET and ERROR replies, the boot banner and
 * the self-test. It runs a model through a *backend*, an interpreter behind the tfl_backend_*
 * functions below. Exactly one backend is linked into a firmware:
 *   - the built-in runtime: firmware/harness/src/tfl_backend_runtime.c (entry tfl_harness_main,
 *     tfl_harness.h);
 *   - TensorFlow Lite Micro: firmware/tflm/src/tfl_tflm_backend.cpp (entry tfl_tflm_harness_main,
 *     tfl_tflm_harness.h), a C++ adapter over tflite::MicroInterpreter.
 * The backend's entry point keeps its own configuration (model, arena, op table or resolver),
 * fills a tfl_server_config with what the protocol reports, and calls tfl_server_main().
 *
 * Link-time functions rather than a table of function pointers: one backend per image, no
 * indirect calls (the stack bound of tests/stack_usage.py stays exact) and no table in RAM. */
#ifndef TFL_SERVER_H
#define TFL_SERVER_H

#include <stddef.h>
#include <stdint.h>

/* Largest payload of a host -> device frame, in bytes; the receive buffer is this plus 8.
 * Inputs larger than one frame are sent in INPUT chunks (docs/protocol.md). Replies from the
 * device are streamed and have no such limit. Must be at least 64. */
#ifndef TFL_HARNESS_MAX_PAYLOAD
#define TFL_HARNESS_MAX_PAYLOAD 1024
#endif

/* Most dimensions a backend reports for one tensor. */
#define TFL_BACKEND_MAX_DIMS 8

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

/* What the server reports and checks, independent of the backend. */
typedef struct tfl_server_config {
  const uint8_t *model_sha256; /* 32 bytes; NULL reports zeros */
  int32_t planned_arena_bytes; /* from tinyflash's memory plan, reported by INFO */
  uint32_t arena_bytes;        /* the arena the backend was given, reported by INFO */
  const tfl_selftest_vector *selftest;
  int32_t selftest_count;
  const char *board; /* board id, reported by INFO */
} tfl_server_config;

/* Initialises the port and the backend, runs the self-test vectors, prints one ASCII banner line
 * ("tinyflash ready selftest=PASS ...\n"), then serves protocol frames until the link ends and
 * exits through tfl_port_exit(0). With config == NULL it prints
 * "tinyflash error init <name> op=-1" (name: tfl_backend_status_name(tfl_backend_init()), which a
 * backend without its own configuration answers with its null-argument status) and exits with 1.
 * Never returns. */
void tfl_server_main(const tfl_server_config *config);

/* ---- the backend contract (implemented by the one backend linked in) ------------------------
 *
 * Status codes are the backend's own, carried as u16 in INFO, RESET and ERROR frames; 0 is
 * success. Tensor indexes count inputs (outputs != 0: outputs) in the model's order. */

/* One tensor as the protocol describes it. Filled by the backend; `data` and `dims` stay valid
 * until the next tfl_backend_* call. */
typedef struct tfl_backend_tensor {
  uint8_t *data; /* `bytes` bytes; NULL only when bytes == 0 */
  uint32_t bytes;
  const int32_t *dims; /* dims_count entries */
  uint8_t dims_count;  /* at most TFL_BACKEND_MAX_DIMS */
  uint8_t type;        /* TFLite schema TensorType code (9 = INT8) */
  int32_t zero_point;  /* 0 and scale 0 for a tensor without quantization */
  float scale;
} tfl_backend_tensor;

/* (Re)builds the interpreter from scratch: called once at start-up and again for every RESET.
 * Returns the status (0: ready to run). */
uint16_t tfl_backend_init(void);
/* The operator the last failing init/invoke stopped at, -1 when none or unknown. */
int32_t tfl_backend_error_op(void);
/* Name of a status for the banner and frames ("TFL_ERR_BAD_SHAPE"); "" when the build has no
 * names (the server then prints "status<N>"). Never NULL. */
const char *tfl_backend_status_name(uint16_t status);
/* The runtime's name or version, reported by INFO ("0.1.0", "tflm"). */
const char *tfl_backend_runtime(void);

/* The following are only called after tfl_backend_init() returned 0. */
int32_t tfl_backend_tensor_count(int outputs);
/* Fills *t for input/output `index`; returns 0 (and a zeroed *t) when it does not exist. */
int tfl_backend_get_tensor(int outputs, int32_t index, tfl_backend_tensor *t);
/* Operators of the model (INFO's op_count, the LAYERS reply). */
int32_t tfl_backend_op_count(void);
/* Arena bytes the initialised interpreter uses (banner, INFO, RESET). */
uint32_t tfl_backend_arena_used(void);

/* 1 when the backend can call tfl_server_op_done() after every operator; 0 when it cannot
 * (LAYERS then runs the model once and replies with no per-operator records and the whole run's
 * ticks). */
int tfl_backend_has_op_hook(void);
/* Runs the model on the inputs in place. With per_op != 0 (only when tfl_backend_has_op_hook()),
 * calls tfl_server_op_done() after each operator and stops with a failing status when it returns
 * nonzero. Returns the status. */
uint16_t tfl_backend_invoke(int per_op);
/* The operator that just ran, as LAYER frames describe it. */
typedef struct tfl_backend_op {
  int32_t builtin_code; /* TFLite BuiltinOperator */
  const char *name;     /* "FULLY_CONNECTED"; never NULL */
  int32_t output_count;
} tfl_backend_op;

/* During tfl_server_op_done(): describes the operator that just ran. */
void tfl_backend_op_info(tfl_backend_op *op);
/* During tfl_server_op_done(): fills *t for output `o` of the operator that just ran and returns
 * its tensor index in the model (*t zeroed when the tensor does not exist). */
int32_t tfl_backend_op_output(int32_t o, tfl_backend_tensor *t);

/* Implemented by the server, called by the backend during tfl_backend_invoke(1) right after
 * operator `op_index` ran, before anything else (the server reads the tick counter first, so an
 * operator's ticks hold as little of the hook as possible); it streams that operator's outputs
 * at once, because later operators reuse the arena. Returns 0 to go on, nonzero to stop the
 * run. */
int tfl_server_op_done(int32_t op_index);

#ifdef __cplusplus
}
#endif
#endif
