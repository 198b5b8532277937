/* The generated test model (harness_test_model.c, written by tests/test_harness.py into its
 * build directory) and the scenario knobs of harness_test_knobs.c. */
#ifndef HARNESS_TEST_KNOBS_H
#define HARNESS_TEST_KNOBS_H

#include <stdint.h>

#include "tfl_server.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const uint8_t harness_test_model[];
extern const uint32_t harness_test_model_size;
extern const uint8_t harness_test_model_sha256[32];
extern const tfl_selftest_vector harness_test_vectors[];
extern const int32_t harness_test_vector_count;
extern const uint8_t harness_test_expected[];
extern const uint32_t harness_test_expected_size;
extern uint8_t harness_test_expected_copy[];
/* Sequential layout (no plan): every activation has its own slot. */
extern uint8_t harness_test_arena[];
extern const int32_t harness_test_arena_bytes;

/* The self-test vectors, with one byte flipped when HARNESS_TEST_CORRUPT asks for it. */
const tfl_selftest_vector *harness_test_selftest(int32_t *count);
/* harness_test_arena_bytes, or HARNESS_TEST_ARENA_BYTES when that is smaller. */
int32_t harness_test_arena_limit(void);

#ifdef __cplusplus
}
#endif
#endif
