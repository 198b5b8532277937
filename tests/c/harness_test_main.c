/* main() of the harness test firmware for the host (tests/test_harness.py): the model, its
 * SHA-256, op table and self-test vectors come from harness_test_model.c, which the test writes into
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

#define HARNESS_TEST_TENSORS 64
#define HARNESS_TEST_NODES 32
#define HARNESS_TEST_POOL 4096
#define HARNESS_TEST_ARENA 65536

static tfl_tensor tensors[HARNESS_TEST_TENSORS];
static tfl_node nodes[HARNESS_TEST_NODES];
static int32_t pool[HARNESS_TEST_POOL];
static uint8_t arena[HARNESS_TEST_ARENA] __attribute__((aligned(16)));
static tfl_selftest_vector vectors[8];
static uint8_t expected_copy[HARNESS_TEST_ARENA];

int main(void) {
  static tfl_harness_config config;
  const char *arena_env = getenv("HARNESS_TEST_ARENA_BYTES");
  const char *corrupt_env = getenv("HARNESS_TEST_CORRUPT");
  int32_t count = harness_test_vector_count < 8 ? harness_test_vector_count : 8;
  int32_t v;

  memcpy(vectors, harness_test_vectors, (size_t)count * sizeof vectors[0]);
  if (corrupt_env != NULL && harness_test_expected_size <= sizeof expected_copy) {
    int32_t which = atoi(corrupt_env);
    memcpy(expected_copy, harness_test_expected, harness_test_expected_size);
    for (v = 0; v < count; ++v) {
      uint32_t start = (uint32_t)(vectors[v].expected_output - harness_test_expected);
      vectors[v].expected_output = expected_copy + start;
      if (v == which && vectors[v].output_bytes > 1) {
        expected_copy[start + 1] ^= 0x01; /* byte 1 of this vector's outputs */
      }
    }
  }

  config.model = harness_test_model;
  config.model_size = harness_test_model_size;
  config.model_sha256 = harness_test_model_sha256;
  config.ops = &harness_test_ops;
  config.memory.tensors = tensors;
  config.memory.tensor_capacity = HARNESS_TEST_TENSORS;
  config.memory.nodes = nodes;
  config.memory.node_capacity = HARNESS_TEST_NODES;
  config.memory.pool = pool;
  config.memory.pool_words = HARNESS_TEST_POOL;
  config.memory.arena = arena;
  config.memory.arena_bytes = HARNESS_TEST_ARENA;
  if (arena_env != NULL) {
    int32_t n = atoi(arena_env);
    if (n >= 0 && n <= HARNESS_TEST_ARENA) {
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
