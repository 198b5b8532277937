/* The scenario knobs shared by the harness test programs (tests/test_harness.py), one per
 * backend: harness_test_main.c (the tinyflash runtime) and harness_test_main_tflm.cpp (TFLM's
 * API, here the stand-in of tests/fixtures/tflm_double). Environment:
 *   HARNESS_TEST_ARENA_BYTES=n  give the backend only n arena bytes (init failure)
 *   HARNESS_TEST_CORRUPT=v      flip one expected output byte of self-test vector v */
#include <stdlib.h>
#include <string.h>

#include "harness_test_knobs.h"

static tfl_selftest_vector vectors[8];

const tfl_selftest_vector *harness_test_selftest(int32_t *count) {
  const char *corrupt_env = getenv("HARNESS_TEST_CORRUPT");
  int32_t n = harness_test_vector_count < 8 ? harness_test_vector_count : 8;
  int32_t v;
  memcpy(vectors, harness_test_vectors, (size_t)n * sizeof vectors[0]);
  if (corrupt_env != NULL) {
    int32_t which = atoi(corrupt_env);
    memcpy(harness_test_expected_copy, harness_test_expected, harness_test_expected_size);
    for (v = 0; v < n; ++v) {
      uint32_t start = (uint32_t)(vectors[v].expected_output - harness_test_expected);
      vectors[v].expected_output = harness_test_expected_copy + start;
      if (v == which && vectors[v].output_bytes > 1) {
        harness_test_expected_copy[start + 1] ^= 0x01; /* byte 1 of this vector's outputs */
      }
    }
  }
  *count = n;
  return vectors;
}

int32_t harness_test_arena_limit(void) {
  const char *arena_env = getenv("HARNESS_TEST_ARENA_BYTES");
  if (arena_env != NULL) {
    int32_t n = atoi(arena_env);
    if (n >= 0 && n <= harness_test_arena_bytes) {
      return n;
    }
  }
  return harness_test_arena_bytes;
}
