/* main() of the harness test firmware for the host over the tinyflash runtime backend
 * (tests/test_harness.py): the model, its SHA-256, op table, memory and self-test vectors come
 * from harness_test_model.c, which the test writes into its build directory; the environment
 * knobs are harness_test_knobs.c's. */
#include <stdint.h>

#include "harness_test_knobs.h"
#include "tfl_harness.h"

/* The op table lists only the model's kernels (like a generated project), so kernels other
 * engineers are still writing do not take part in this build. */
extern const tfl_op_table harness_test_ops;

/* Memory sized for the model by the generated file (sequential layout, no plan). */
extern tfl_tensor harness_test_tensors[];
extern const int32_t harness_test_tensor_capacity;
extern tfl_node harness_test_nodes[];
extern const int32_t harness_test_node_capacity;
extern int32_t harness_test_pool[];
extern const int32_t harness_test_pool_words;

int main(void) {
  static tfl_harness_config config;
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
  config.memory.arena_bytes = harness_test_arena_limit();
  config.memory.offsets = NULL; /* sequential layout: no plan needed for the test */
  config.memory.offsets_count = 0;
  config.planned_arena_bytes = 4321;
  config.selftest = harness_test_selftest(&config.selftest_count);
  config.board = "host-test";
  tfl_harness_main(&config);
  return 0;
}
