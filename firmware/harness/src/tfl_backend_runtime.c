/* The built-in runtime (firmware/runtime) behind the server's backend contract (tfl_server.h):
 * tfl_init/tfl_invoke on the caller's memory, tensors read from tfl_tensor, and the interpreter's
 * per-op hook feeding LAYERS. */
#include <string.h>

#include "tfl_harness.h"

#if TFL_MAX_DIMS > TFL_BACKEND_MAX_DIMS
#error "TFL_MAX_DIMS is larger than the server's TFL_BACKEND_MAX_DIMS"
#endif

typedef struct tfl_runtime_backend {
  const tfl_harness_config *cfg;
  tfl_interpreter it;
  const tfl_node *node; /* during a per-op run: the operator that just ran */
} tfl_runtime_backend;

static tfl_runtime_backend g_backend;

uint16_t tfl_backend_init(void) {
  tfl_runtime_backend *b = &g_backend;
  const tfl_harness_config *cfg = b->cfg;
  tfl_status status;
  memset(&b->it, 0, sizeof b->it);
  if (cfg == NULL) {
    return (uint16_t)TFL_ERR_NULL_ARGUMENT;
  }
  status = tfl_init(&b->it, cfg->model, cfg->model_size, cfg->ops, &cfg->memory);
  b->it.hook = NULL;
  b->it.hook_user = NULL;
  return (uint16_t)status;
}

int32_t tfl_backend_error_op(void) { return g_backend.it.error_op; }

const char *tfl_backend_status_name(uint16_t status) { return tfl_status_name((tfl_status)status); }

const char *tfl_backend_runtime(void) { return TFL_RUNTIME_VERSION; }

int32_t tfl_backend_tensor_count(int outputs) {
  return outputs ? tfl_output_count(&g_backend.it) : tfl_input_count(&g_backend.it);
}

/* The protocol's view of t (zeroed when NULL); dims_count capped at TFL_MAX_DIMS by `cap`, or
 * reported as 0 dimensions when larger (the LAYER record's rule). */
static int fill(const tfl_tensor *t, tfl_backend_tensor *out, int cap) {
  memset(out, 0, sizeof *out);
  if (t == NULL) {
    return 0;
  }
  out->data = (uint8_t *)t->data;
  out->bytes = t->bytes > 0 ? (uint32_t)t->bytes : 0u;
  out->dims = t->dims;
  out->dims_count = t->dims_count <= TFL_MAX_DIMS ? t->dims_count : (cap ? TFL_MAX_DIMS : 0u);
  out->type = t->type;
  if (t->quant_count > 0) {
    out->zero_point = t->zero_point;
    out->scale = t->scale;
  }
  return 1;
}

int tfl_backend_get_tensor(int outputs, int32_t index, tfl_backend_tensor *t) {
  tfl_interpreter *it = &g_backend.it;
  return fill(outputs ? tfl_output(it, index) : tfl_input(it, index), t, 1);
}

int32_t tfl_backend_op_count(void) { return g_backend.it.node_count; }

uint32_t tfl_backend_arena_used(void) { return (uint32_t)g_backend.it.arena_used; }

int tfl_backend_has_op_hook(void) { return 1; }

static tfl_status op_hook(void *user, tfl_context *ctx, int32_t op_index, const tfl_node *node) {
  (void)ctx; /* the interpreter itself: g_backend.it */
  ((tfl_runtime_backend *)user)->node = node;
  /* 0 goes on; anything else stops the run, which tfl_invoke reports as TFL_ERR_HOOK. A tail
   * call: the operator's ticks (read first thing in the server) hold little of the hook. */
  return (tfl_status)tfl_server_op_done(op_index);
}

uint16_t tfl_backend_invoke(int per_op) {
  tfl_runtime_backend *b = &g_backend;
  tfl_status status;
  b->it.hook = per_op ? op_hook : NULL;
  b->it.hook_user = per_op ? b : NULL;
  status = tfl_invoke(&b->it);
  b->it.hook = NULL;
  b->it.hook_user = NULL;
  b->node = NULL;
  return (uint16_t)status;
}

void tfl_backend_op_info(tfl_backend_op *op) {
  const tfl_node *node = g_backend.node;
  op->builtin_code = (int32_t)node->builtin_code;
  op->name = tfl_op_name(node);
  op->output_count = node->output_count;
}

int32_t tfl_backend_op_output(int32_t o, tfl_backend_tensor *t) {
  const tfl_runtime_backend *b = &g_backend;
  const uint8_t *p = b->node->outputs_le + 4 * o; /* little-endian int32 */
  int32_t index = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                            ((uint32_t)p[3] << 24));
  /* the node's indices are local to its subgraph (validated by tfl_init) */
  index += b->it.subgraphs[b->node->subgraph].tensor_base;
  (void)fill(tfl_tensor_at(&g_backend.it, index), t, 0);
  return index;
}

void tfl_harness_main(const tfl_harness_config *config) {
  static tfl_server_config server;
  g_backend.cfg = config;
  if (config != NULL) {
    const tfl_server_config reported = {
        config->model_sha256, config->planned_arena_bytes, (uint32_t)config->memory.arena_bytes,
        config->selftest,     config->selftest_count,      config->board};
    server = reported;
  }
  tfl_server_main(config != NULL ? &server : NULL);
}
