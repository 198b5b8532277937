/* See model_case.h. Every heap block is exactly the size the runtime was told about, so ASan
 * reports one byte read or written past the model, the tensor/node arrays, the pool or the arena
 * the runtime itself reported (arena never overrun). */
#include "model_case.h"

#include <stdlib.h>
#include <string.h>

#include "tfl_kernel.h"

#define TFL_KERNEL(lower, code, name) extern const tfl_kernel tfl_kernel_##lower;
#include "tfl_kernels.h"
#undef TFL_KERNEL

static const tfl_kernel *const all_kernels[] = {
#define TFL_KERNEL(lower, code, name) &tfl_kernel_##lower,
#include "tfl_kernels.h"
#undef TFL_KERNEL
    NULL};

static uint8_t big_arena[TFL_FUZZ_ARENA] __attribute__((aligned(16)));
static int32_t big_pool[TFL_FUZZ_POOL];

static void fill_inputs(tfl_interpreter *it, uint8_t seed) {
  for (int32_t i = 0; i < tfl_input_count(it); ++i) {
    tfl_tensor *t = tfl_input(it, i);
    if (t == NULL || t->data == NULL || t->bytes <= 0) continue;
    uint8_t *p = (uint8_t *)t->data;
    for (int32_t b = 0; b < t->bytes; ++b) p[b] = (uint8_t)((uint32_t)b * 37u + seed);
  }
}

static tfl_case_outcome outcome(tfl_case_stage stage, tfl_status status) {
  tfl_case_outcome o;
  o.stage = stage;
  o.status = status;
  return o;
}

static tfl_case_outcome run_model(const uint8_t *data, size_t size);

tfl_case_outcome tfl_fuzz_run_model(const uint8_t *data, size_t size) {
  /* The runtime must never write into the model (flash on a device): compare afterwards. */
  uint8_t *copy = (uint8_t *)malloc(size > 0 ? size : 1u);
  if (copy == NULL) return outcome(TFL_CASE_COUNTS_FAILED, TFL_OK);
  if (size > 0) memcpy(copy, data, size);
  tfl_case_outcome o = run_model(data, size);
  if (size > 0 && memcmp(copy, data, size) != 0) __builtin_trap();
  free(copy);
  return o;
}

static tfl_case_outcome run_model(const uint8_t *data, size_t size) {
  static const tfl_op_table ops = {
      all_kernels, (int32_t)(sizeof all_kernels / sizeof all_kernels[0]) - 1, NULL, 0};
  int32_t tensor_count = 0, op_count = 0;
  tfl_status s = tfl_model_counts(data, size, &tensor_count, &op_count);
  if (s != TFL_OK) return outcome(TFL_CASE_COUNTS_FAILED, s);
  if (tensor_count < 0 || op_count < 0) __builtin_trap(); /* counts must be sane on TFL_OK */
  tfl_memory mem;
  memset(&mem, 0, sizeof mem);
  mem.tensors =
      (tfl_tensor *)malloc(((size_t)tensor_count + (tensor_count == 0)) * sizeof(tfl_tensor));
  mem.nodes = (tfl_node *)malloc(((size_t)op_count + (op_count == 0)) * sizeof(tfl_node));
  if (mem.tensors == NULL || mem.nodes == NULL) {
    free(mem.tensors);
    free(mem.nodes);
    return outcome(TFL_CASE_COUNTS_FAILED, TFL_OK); /* host out of memory: not the runtime's */
  }
  /* garbage, not zeros: the runtime must not rely on zeroed caller memory */
  memset(mem.tensors, 0xA5, ((size_t)tensor_count + (tensor_count == 0)) * sizeof(tfl_tensor));
  memset(mem.nodes, 0x5A, ((size_t)op_count + (op_count == 0)) * sizeof(tfl_node));
  mem.tensor_capacity = tensor_count;
  mem.node_capacity = op_count;
  mem.arena = big_arena;
  mem.arena_bytes = TFL_FUZZ_ARENA;
  mem.pool = big_pool;
  mem.pool_words = TFL_FUZZ_POOL;

  tfl_interpreter it;
  memset(&it, 0, sizeof it);
  tfl_case_outcome result;
  s = tfl_init(&it, data, size, &ops, &mem);
  if (s != TFL_OK) {
    result = outcome(TFL_CASE_INIT_FAILED, s);
  } else {
    if (it.arena_used < 0 || it.arena_used > TFL_FUZZ_ARENA || it.pool_used < 0 ||
        it.pool_used > TFL_FUZZ_POOL) {
      __builtin_trap(); /* the runtime reported more memory than it was given */
    }
    /* pass 2: exactly the memory the runtime said it uses */
    size_t arena_size = it.arena_used > 0 ? (size_t)it.arena_used : 1u;
    uint8_t *arena_block = (uint8_t *)malloc(arena_size);
    mem.arena = arena_block;
    if (arena_block != NULL && ((uintptr_t)arena_block & 15u) != 0) {
      /* the runtime needs 16-byte alignment: align by hand (the end is then up to 15 B loose) */
      free(arena_block);
      arena_block = (uint8_t *)malloc(arena_size + 15u);
      mem.arena = arena_block;
      if (arena_block != NULL)
        mem.arena = arena_block + ((16u - ((uintptr_t)arena_block & 15u)) & 15u);
    }
    mem.arena_bytes = it.arena_used;
    mem.pool = (int32_t *)malloc(it.pool_used > 0 ? (size_t)it.pool_used * sizeof(int32_t) : 4u);
    mem.pool_words = it.pool_used;
    result = outcome(TFL_CASE_RAN, TFL_OK);
    if (arena_block != NULL && mem.pool != NULL) {
      tfl_interpreter it2;
      memset(&it2, 0, sizeof it2);
      s = tfl_init(&it2, data, size, &ops, &mem);
      /* the reported arena_used/pool_used must suffice: init in exactly that much succeeds */
      if (s != TFL_OK) __builtin_trap();
      fill_inputs(&it2, 11u);
      s = tfl_invoke(&it2);
      if (s == TFL_OK) {
        fill_inputs(&it2, 200u);
        s = tfl_invoke(&it2);
      }
      if (s != TFL_OK) result = outcome(TFL_CASE_INVOKE_FAILED, s);
    }
    free(arena_block);
    free(mem.pool);
  }
  free(mem.tensors);
  free(mem.nodes);
  return result;
}
