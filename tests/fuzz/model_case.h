/* One untrusted model through the runtime, shared by the libFuzzer target (fuzz_model.c) and the
 * batch mutation runner (mutate_main.c). */
#ifndef TFL_FUZZ_MODEL_CASE_H
#define TFL_FUZZ_MODEL_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "tfl_runtime.h"

/* Arena of the first init (the device's RAM, in effect). Models needing more must fail init. */
#ifndef TFL_FUZZ_ARENA
#define TFL_FUZZ_ARENA (1 << 20)
#endif
#define TFL_FUZZ_POOL (1 << 16)

typedef enum {
  TFL_CASE_COUNTS_FAILED = 0, /* tfl_model_counts returned an error */
  TFL_CASE_INIT_FAILED,       /* tfl_init returned an error */
  TFL_CASE_INVOKE_FAILED,     /* tfl_invoke returned an error */
  TFL_CASE_RAN                /* init and two invokes returned TFL_OK */
} tfl_case_stage;

typedef struct tfl_case_outcome {
  tfl_case_stage stage;
  tfl_status status; /* the error status of that stage, TFL_OK when it ran */
} tfl_case_outcome;

/* Runs counts -> init (generous arena) -> init again in heap blocks of exactly arena_used and
 * pool_used -> two invokes on patterned inputs. Calls __builtin_trap() when an invariant the
 * sanitizers cannot see is broken (negative counts, more memory reported than given, the second
 * init failing in the memory the first one reported, a byte of the model changed). */
tfl_case_outcome tfl_fuzz_run_model(const uint8_t *data, size_t size);

#endif
