/* Host test runner for the tinyflash runtime (sanitized build: tests/support/runtime_host.py).
 *
 *   tfl_runner MODEL                       init only: prints the model's I/O description
 *   tfl_runner MODEL INPUTS N OUTPUTS      runs N input sets read from INPUTS (each set: every
 *                                          input tensor's bytes in order) and writes N output sets
 *                                          (every output tensor's bytes in order) to OUTPUTS;
 *                                          INPUTS "-" fills every input with a byte pattern
 *   environment TFL_RUNNER_LAYERS=FILE     after every operator of every invoke, append the bytes
 *                                          of all its outputs to FILE (per-layer comparisons)
 *   environment TFL_RUNNER_OFFSETS=FILE    memory plan: one little-endian int32 arena offset per
 *                                          tensor (-1 = not in the arena) instead of the runtime's
 *                                          sequential layout
 *
 * stdout, one item per line:
 *   status <TFL_STATUS_NAME> <error_op> <builtin_code>
 *   arena <arena_used> pool <pool_used> tensors <count> ops <count>
 *   input|output <i> <type> <bytes> <scale> <zero_point> <rank> <dims...>
 *   invoke <TFL_STATUS_NAME> <error_op>           (only when an invoke fails)
 *   tfl_runner --api MODEL                 API contract checks (memory limits, hooks, NULLs) on a
 *                                          valid model: prints "check <name> ok|FAIL <detail>"
 * Exit: 0 ok, 2 usage or I/O problem, 3 init failed, 4 invoke failed, 5 an API check failed.
 *
 * The arena and pool are sized in two passes: init with generous buffers to learn the sizes, then
 * init again with heap blocks of exactly arena_used bytes and pool_used words, so ASan reports any
 * access past the planned memory. The model bytes are an exact-size heap block for the same
 * reason. */
#include <stdio.h>
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

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return NULL;
  }
  long n = ftell(f);
  if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  uint8_t *buf = (uint8_t *)malloc(n > 0 ? (size_t)n : 1u);
  if (buf != NULL && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

static void print_tensor(const char *kind, int32_t i, const tfl_tensor *t) {
  printf("%s %d %d %d %.9g %d %d", kind, (int)i, (int)t->type, (int)t->bytes, (double)t->scale,
         (int)t->zero_point, (int)t->dims_count);
  for (int32_t d = 0; d < t->dims_count; ++d) printf(" %d", (int)t->dims[d]);
  printf("\n");
}

static int report_init(tfl_interpreter *it, tfl_status s) {
  int32_t code = -1;
  if (it->error_op >= 0 && it->error_op < it->node_count) {
    code = it->mem.nodes[it->error_op].builtin_code;
  }
  printf("status %s %d %d\n", tfl_status_name(s), (int)it->error_op, (int)code);
  return s == TFL_OK ? 0 : 3;
}

/* Hook for TFL_RUNNER_LAYERS: dumps each operator's outputs. */
static tfl_status dump_hook(void *user, tfl_context *ctx, int32_t op_index, const tfl_node *node) {
  FILE *f = (FILE *)user;
  (void)op_index;
  for (int32_t o = 0; o < node->output_count; ++o) {
    const tfl_tensor *t = tfl_node_output(ctx, node, o);
    if (t != NULL && t->bytes > 0 && fwrite(t->data, 1, (size_t)t->bytes, f) != (size_t)t->bytes) {
      return TFL_ERR_BAD_ARGUMENT;
    }
  }
  return TFL_OK;
}

/* ---- --api: contract checks of tfl_init/tfl_invoke/accessors on one valid model ----------- */

static int api_failures = 0;

static void check(const char *name, int ok, const char *detail) {
  printf("check %s %s %s\n", name, ok ? "ok" : "FAIL", ok ? "" : detail);
  if (!ok) ++api_failures;
}

static void check_status(const char *name, tfl_status got, tfl_status want) {
  char detail[160];
  snprintf(detail, sizeof detail, "got %s want %s", tfl_status_name(got), tfl_status_name(want));
  check(name, got == want, detail);
}

typedef struct {
  int calls;
  int stop_at;
  int last_index;
} hook_state;

static tfl_status counting_hook(void *user, tfl_context *ctx, int32_t op_index,
                                const tfl_node *node) {
  hook_state *h = (hook_state *)user;
  (void)ctx;
  (void)node;
  h->calls++;
  h->last_index = op_index;
  return op_index == h->stop_at ? TFL_ERR_BAD_ARGUMENT : TFL_OK;
}

static int api_checks(const uint8_t *model, size_t size, const tfl_op_table *ops) {
  int32_t tensors = 0, nodes = 0;
  check_status("model_counts", tfl_model_counts(model, size, &tensors, &nodes), TFL_OK);
  check_status("model_counts_null", tfl_model_counts(NULL, size, &tensors, &nodes),
               TFL_ERR_NULL_ARGUMENT);
  tfl_tensor *tv = (tfl_tensor *)calloc((size_t)tensors + 1u, sizeof(tfl_tensor));
  tfl_node *nv = (tfl_node *)calloc((size_t)nodes + 1u, sizeof(tfl_node));
  int32_t *pool = (int32_t *)malloc(1024u * 1024u * sizeof(int32_t));
  uint8_t *arena_block = (uint8_t *)malloc(64u * 1024u * 1024u + 32u);
  if (tv == NULL || nv == NULL || pool == NULL || arena_block == NULL) return 2;
  uint8_t *arena = arena_block + (16u - ((uintptr_t)arena_block % 16u)) % 16u;
  tfl_memory mem = {tv,    tensors,          nv,   nodes, pool, 1024 * 1024,
                    arena, 64 * 1024 * 1024, NULL, 0,     NULL};
  tfl_interpreter it;
  memset(&it, 0, sizeof it);

  check_status("invoke_before_init", tfl_invoke(&it), TFL_ERR_NOT_READY);
  check("input_before_init_is_null", tfl_input(&it, 0) == NULL, "");
  check_status("init_null_model", tfl_init(&it, NULL, size, ops, &mem), TFL_ERR_NULL_ARGUMENT);
  check_status("init_null_memory", tfl_init(&it, model, size, ops, NULL), TFL_ERR_NULL_ARGUMENT);
  check_status("init_null_interpreter", tfl_init(NULL, model, size, ops, &mem),
               TFL_ERR_NULL_ARGUMENT);
  check("failed_init_not_ready", it.ready == 0 && tfl_invoke(&it) == TFL_ERR_NOT_READY, "");

  check_status("init", tfl_init(&it, model, size, ops, &mem), TFL_OK);
  const int32_t arena_used = it.arena_used, pool_used = it.pool_used;
  check("counts", it.tensor_count == tensors && it.node_count == nodes, "");
  check("input_out_of_range",
        tfl_input(&it, tfl_input_count(&it)) == NULL && tfl_input(&it, -1) == NULL, "");
  check("output_out_of_range", tfl_output(&it, tfl_output_count(&it)) == NULL, "");
  check("tensor_at_out_of_range",
        tfl_tensor_at(&it, tensors) == NULL && tfl_tensor_at(&it, -1) == NULL, "");
  check("op_name", nodes == 0 || strcmp(tfl_op_name(&it.mem.nodes[0]), "?") != 0, "");
  check("op_name_null", strcmp(tfl_op_name(NULL), "?") == 0, "");

  /* Variable tensors (recurrent state): zero (int8: zero point) after init and after
   * tfl_reset_variables; a reset makes the next invoke repeat the first one's outputs. */
  check_status("reset_variables_null", tfl_reset_variables(NULL), TFL_ERR_NULL_ARGUMENT);
  {
    int zero_ok = 1, same = 1;
    for (int32_t i = 0; i < tfl_input_count(&it); ++i) {
      tfl_tensor *in = tfl_input(&it, i);
      for (int32_t b = 0; b < in->bytes; ++b) ((uint8_t *)in->data)[b] = (uint8_t)(b * 37 + 11);
    }
    tfl_tensor *out = tfl_output_count(&it) > 0 ? tfl_output(&it, 0) : NULL;
    const size_t out_bytes = out != NULL ? (size_t)out->bytes : 0u;
    uint8_t *first = (uint8_t *)malloc(out_bytes + 1u);
    tfl_status s1 = tfl_invoke(&it);
    if (out != NULL && first != NULL) memcpy(first, out->data, out_bytes);
    tfl_status s2 = tfl_invoke(&it);
    check_status("reset_variables", tfl_reset_variables(&it), TFL_OK);
    for (int32_t t = 0; t < it.tensor_count; ++t) {
      const tfl_tensor *v = &it.mem.tensors[t];
      if (!v->is_variable) continue;
      const uint8_t want = v->type == TFL_TYPE_INT8 ? (uint8_t)v->zero_point : 0u;
      for (int32_t b = 0; b < v->bytes; ++b) zero_ok &= ((const uint8_t *)v->data)[b] == want;
    }
    check("reset_zeroes_variables", zero_ok, "");
    tfl_status s3 = tfl_invoke(&it);
    if (out != NULL && first != NULL) same = memcmp(first, out->data, out_bytes) == 0;
    check("reset_repeats_first_invoke", s1 == TFL_OK && s2 == TFL_OK && s3 == TFL_OK && same,
          "outputs after tfl_reset_variables differ from the first invoke's");
    free(first);
  }

  hook_state h = {0, -1, -1};
  it.hook = counting_hook;
  it.hook_user = &h;
  check_status("invoke_with_hook", tfl_invoke(&it), TFL_OK);
  /* subgraph 0's operators (a CALL_ONCE's init subgraph ran on the first invoke only) */
  const int32_t main_nodes = it.subgraphs[0].node_count;
  check("hook_called_per_op", h.calls == main_nodes && h.last_index == main_nodes - 1, "");
  if (main_nodes > 0) {
    h.calls = 0;
    h.stop_at = 0;
    check_status("hook_stops_invoke", tfl_invoke(&it), TFL_ERR_HOOK);
    check("hook_stop_names_op", it.error_op == 0 && h.calls == 1, "");
  }
  it.hook = NULL;

  tfl_memory m2 = mem;
  m2.tensor_capacity = tensors - 1;
  check_status("too_many_tensors", tfl_init(&it, model, size, ops, &m2), TFL_ERR_TOO_MANY_TENSORS);
  m2 = mem;
  m2.node_capacity = nodes - 1;
  if (nodes > 0) {
    check_status("too_many_ops", tfl_init(&it, model, size, ops, &m2), TFL_ERR_TOO_MANY_OPS);
  }
  m2 = mem;
  m2.arena_bytes = arena_used;
  check_status("exact_arena", tfl_init(&it, model, size, ops, &m2), TFL_OK);
  if (arena_used > 0) {
    m2.arena_bytes = arena_used - 1;
    check_status("arena_one_byte_short", tfl_init(&it, model, size, ops, &m2),
                 TFL_ERR_ARENA_TOO_SMALL);
  }
  m2 = mem;
  m2.pool_words = pool_used;
  check_status("exact_pool", tfl_init(&it, model, size, ops, &m2), TFL_OK);
  if (pool_used > 0) {
    m2.pool_words = pool_used - 1;
    tfl_status s = tfl_init(&it, model, size, ops, &m2);
    check_status("pool_one_word_short", s, TFL_ERR_POOL_TOO_SMALL);
    check("pool_short_names_op", it.error_op >= 0, "");
  }
  m2 = mem;
  m2.arena = arena + 4;
  check_status("unaligned_arena", tfl_init(&it, model, size, ops, &m2), TFL_ERR_BAD_ARGUMENT);
  tfl_op_table none = {NULL, 0, NULL, 0};
  tfl_status s = tfl_init(&it, model, size, &none, &mem);
  check_status("empty_op_table", s, nodes > 0 ? TFL_ERR_UNSUPPORTED_OP : TFL_OK);
  check("empty_op_table_names_op_0", nodes == 0 || it.error_op == 0, "");
  check_status("truncated_model", tfl_init(&it, model, size / 2, ops, &mem),
               TFL_ERR_MODEL_TRUNCATED);

  int names_ok = 1;
  for (int k = 0; k < (int)TFL_STATUS_COUNT; ++k) {
    const char *n = tfl_status_name((tfl_status)k);
    const char *msg = tfl_status_message((tfl_status)k);
    if (n == NULL || msg == NULL || strncmp(n, "TFL_", 4) != 0 || msg[0] == '\0') names_ok = 0;
  }
  check("status_tables",
        names_ok && strcmp(tfl_status_name(TFL_ERR_HOOK), "TFL_ERR_HOOK") == 0 &&
            tfl_status_message(TFL_STATUS_COUNT) != NULL,
        "");
  free(tv);
  free(nv);
  free(pool);
  free(arena_block);
  return api_failures == 0 ? 0 : 5;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--api") == 0) {
    size_t size = 0;
    uint8_t *model = read_file(argv[2], &size);
    if (model == NULL) return 2;
    tfl_op_table ops = {all_kernels, (int32_t)(sizeof all_kernels / sizeof all_kernels[0]) - 1,
                        NULL, 0};
    int rc = api_checks(model, size, &ops);
    free(model);
    return rc;
  }
  if (argc != 2 && argc != 5) {
    fprintf(stderr, "usage: %s MODEL [INPUTS N OUTPUTS]\n", argv[0]);
    return 2;
  }
  size_t model_size = 0;
  uint8_t *model = read_file(argv[1], &model_size);
  if (model == NULL) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  tfl_interpreter it;
  int32_t mem_offsets_count = 0;
  memset(&it, 0, sizeof it);
  it.error_op = -1;
  int32_t tensor_count = 0, op_count = 0;
  tfl_status s = tfl_model_counts(model, model_size, &tensor_count, &op_count);
  if (s != TFL_OK) return report_init(&it, s);

  int32_t *offsets = NULL;
  const char *offsets_path = getenv("TFL_RUNNER_OFFSETS");
  if (offsets_path != NULL && offsets_path[0] != '\0') {
    size_t n = 0;
    offsets = (int32_t *)read_file(offsets_path, &n);
    if (offsets == NULL || n % 4 != 0) {
      fprintf(stderr, "cannot read offsets file %s\n", offsets_path);
      return 2;
    }
    mem_offsets_count = (int32_t)(n / 4);
  }

  tfl_op_table ops = {all_kernels, (int32_t)(sizeof all_kernels / sizeof all_kernels[0]) - 1, NULL,
                      0};
  tfl_memory mem;
  memset(&mem, 0, sizeof mem);
  mem.tensors = (tfl_tensor *)calloc((size_t)tensor_count + 1u, sizeof(tfl_tensor));
  mem.tensor_capacity = tensor_count;
  mem.nodes = (tfl_node *)calloc((size_t)op_count + 1u, sizeof(tfl_node));
  mem.node_capacity = op_count;
  /* pass 1: generous memory to learn the sizes */
  const int32_t big_arena = 64 * 1024 * 1024, big_pool = 1024 * 1024;
  mem.arena = (uint8_t *)malloc((size_t)big_arena);
  mem.arena_bytes = big_arena;
  mem.pool = (int32_t *)malloc((size_t)big_pool * sizeof(int32_t));
  mem.pool_words = big_pool;
  mem.offsets = offsets;
  mem.offsets_count = mem_offsets_count;
  if (mem.tensors == NULL || mem.nodes == NULL || mem.arena == NULL || mem.pool == NULL) return 2;
  s = tfl_init(&it, model, model_size, &ops, &mem);
  if (s != TFL_OK) return report_init(&it, s);
  int32_t arena_used = it.arena_used, pool_used = it.pool_used;
  free(mem.arena);
  free(mem.pool);
  /* pass 2: exact sizes */
  mem.arena = (uint8_t *)malloc(arena_used > 0 ? (size_t)arena_used : 1u);
  mem.arena_bytes = arena_used;
  mem.pool =
      (int32_t *)malloc(pool_used > 0 ? (size_t)pool_used * sizeof(int32_t) : sizeof(int32_t));
  mem.pool_words = pool_used;
  if (mem.arena == NULL || mem.pool == NULL) return 2;
  s = tfl_init(&it, model, model_size, &ops, &mem);
  int rc = report_init(&it, s);
  if (rc != 0) return rc;
  printf("arena %d pool %d tensors %d ops %d\n", (int)it.arena_used, (int)it.pool_used,
         (int)it.tensor_count, (int)it.node_count);
  size_t in_set = 0;
  for (int32_t i = 0; i < tfl_input_count(&it); ++i) {
    print_tensor("input", i, tfl_input(&it, i));
    in_set += (size_t)tfl_input(&it, i)->bytes;
  }
  for (int32_t i = 0; i < tfl_output_count(&it); ++i) {
    print_tensor("output", i, tfl_output(&it, i));
  }
  fflush(stdout);
  if (argc == 2) return 0;

  long sets = strtol(argv[3], NULL, 10);
  size_t in_size = 0;
  uint8_t *inputs = NULL;
  if (strcmp(argv[2], "-") == 0 && sets >= 0) {
    in_size = (size_t)sets * in_set;
    inputs = (uint8_t *)malloc(in_size > 0 ? in_size : 1u);
    for (size_t i = 0; inputs != NULL && i < in_size; ++i) inputs[i] = (uint8_t)(i * 37u + 11u);
  } else {
    inputs = read_file(argv[2], &in_size);
  }
  if (inputs == NULL || sets < 0 || in_size != (size_t)sets * in_set) {
    fprintf(stderr, "input file %s has %zu bytes, expected %ld sets of %zu\n", argv[2], in_size,
            sets, in_set);
    return 2;
  }
  FILE *out = fopen(argv[4], "wb");
  if (out == NULL) return 2;
  FILE *layers = NULL;
  const char *layers_path = getenv("TFL_RUNNER_LAYERS");
  if (layers_path != NULL && layers_path[0] != '\0') {
    layers = fopen(layers_path, "wb");
    if (layers == NULL) return 2;
    it.hook = dump_hook;
    it.hook_user = layers;
  }
  for (long k = 0; k < sets; ++k) {
    const uint8_t *src = inputs + (size_t)k * in_set;
    for (int32_t i = 0; i < tfl_input_count(&it); ++i) {
      tfl_tensor *t = tfl_input(&it, i);
      if (t->bytes > 0) memcpy(t->data, src, (size_t)t->bytes);
      src += t->bytes;
    }
    s = tfl_invoke(&it);
    if (s != TFL_OK) {
      printf("invoke %s %d\n", tfl_status_name(s), (int)it.error_op);
      fclose(out);
      return 4;
    }
    for (int32_t i = 0; i < tfl_output_count(&it); ++i) {
      tfl_tensor *t = tfl_output(&it, i);
      if (t->bytes > 0 && fwrite(t->data, 1, (size_t)t->bytes, out) != (size_t)t->bytes) return 2;
    }
  }
  if (fclose(out) != 0) return 2;
  if (layers != NULL && fclose(layers) != 0) return 2;
  free(inputs);
  free(mem.arena);
  free(mem.pool);
  free(mem.tensors);
  free(mem.nodes);
  free(model);
  free(offsets);
  return 0;
}
