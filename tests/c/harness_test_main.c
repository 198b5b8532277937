/* main() of the harness test firmware for the host (tests/test_harness.py): the model, its
 * SHA-256, op table, memory and self-test vectors come from harness_test_model.c, which the test writes into
 * its build directory. Environment knobs let one executable play several scenarios:
 *   HARNESS_TEST_ARENA_BYTES=n  give the runtime only n arena bytes (init failure)
 *   HARNESS_TEST_CORRUPT=v      flip one expected output byte of self-test vector v */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tfl_harness.h"

/* The op table lists only the model's kernels (like a generated project), so kernels other
 * engineers are still writing do not take part in this build. */
extern const tfl_op_table harness_test_ops;

extern const uint8_t harness_test_model[];
extern const uint32_t harness_test_model_size;
extern const uint8_t harness_test_model_sha256[32];
extern const tfl_selftest_vector harness_test_vectors[];
extern const int32_t harness_test_vector_count;
extern const uint8_t harness_test_expected[];
extern const uint32_t harness_test_expected_size;

/* Memory sized for the model by the generated file (sequential layout, no plan). */
extern tfl_tensor harness_test_tensors[];
extern const int32_t harness_test_tensor_capacity;
extern tfl_node harness_test_nodes[];
extern const int32_t harness_test_node_capacity;
extern int32_t harness_test_pool[];
extern const int32_t harness_test_pool_words;
extern uint8_t harness_test_arena[];
extern const int32_t harness_test_arena_bytes;
extern uint8_t harness_test_expected_copy[];

static tfl_selftest_vector vectors[8];

int main(void) {
  static tfl_harness_config config;
  const char *arena_env = getenv("HARNESS_TEST_ARENA_BYTES");
  const char *corrupt_env = getenv("HARNESS_TEST_CORRUPT");
  int32_t count = harness_test_vector_count < 8 ? harness_test_vector_count : 8;
  int32_t v;

  memcpy(vectors, harness_test_vectors, (size_t)count * sizeof vectors[0]);
  if (corrupt_env != NULL) {
    int32_t which = atoi(corrupt_env);
    memcpy(harness_test_expected_copy, harness_test_expected, harness_test_expected_size);
    for (v = 0; v < count; ++v) {
      uint32_t start = (uint32_t)(vectors[v].expected_output - harness_test_expected);
      vectors[v].expected_output = harness_test_expected_copy + start;
      if (v == which && vectors[v].output_bytes > 1) {
        harness_test_expected_copy[start + 1] ^= 0x01; /* byte 1 of this vector's outputs */
      }
    }
  }

  config.model = harness_test_model;
  config.model_size = harness_test_model_size;
  config.model_sha256 = harness_test_model_sha256;
  config.ops = &harness_test_ops;
  config.memory.tensors = harness_test_tensors;
  config.memory.tensor_capacity = harness_test_tensor_capacity;
  config.memory.nodes = harness_test_nodes;
  config.memory.node_capacity = harness_test_node_capacity;
  config.memory.pool = harness_test_pool;
  config.memory.pool_words = harness_test_pool_words;
  config.memory.arena = harness_test_arena;
  config.memory.arena_bytes = harness_test_arena_bytes;
  if (arena_env != NULL) {
    int32_t n = atoi(arena_env);
    if (n >= 0 && n <= harness_test_arena_bytes) {
      config.memory.arena_bytes = n;
    }
  }
  config.memory.offsets = NULL; /* sequential layout: no plan needed for the test */
  config.memory.offsets_count = 0;
  config.planned_arena_bytes = 4321;
  config.selftest = vectors;
  config.selftest_count = count;
  config.board = "host-test";
  tfl_harness_main(&config);
  return 0;
}
