/* libFuzzer target 1: arbitrary bytes as a model -> tfl_model_counts, tfl_init, tfl_invoke.
 *
 * Invariants (docs/security.md): no out-of-bounds access (ASan), no undefined behaviour (UBSan,
 * -fno-sanitize-recover), no hang (libFuzzer -timeout), every call returns a status, and the
 * arena is never overrun: model_case.c initialises a model that passed once more in heap blocks
 * of exactly arena_used / pool_used, so one byte past the plan is an ASan report. */
#include <stddef.h>
#include <stdint.h>

#include "model_case.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)tfl_fuzz_run_model(data, size);
  return 0;
}
