/* CALL_ONCE: runs subgraph init_subgraph_index (CallOnceOptions field 0) on the first invoke and
 * does nothing on later ones; tfl_reset_variables re-arms it. data[0] = subgraph, data[1] = 1
 * once it has run. */
#include "tfl_kernel.h"

static tfl_status call_once_prepare(tfl_context *ctx, tfl_node *node) {
  int32_t index;
  if (node->input_count != 0 || node->output_count != 0) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, 0, &index));
  /* another subgraph of the model (running its own would recurse) */
  if (index < 0 || index >= ctx->subgraph_count || index == node->subgraph) {
    return TFL_ERR_MODEL_INVALID;
  }
  node->data[0] = index;
  node->data[1] = 0;
  return TFL_OK;
}

static tfl_status call_once_eval(tfl_context *ctx, tfl_node *node) {
  if (node->data[1]) return TFL_OK;
  TFL_ENSURE(tfl_invoke_subgraph(ctx, node->data[0]));
  node->data[1] = 1;
  return TFL_OK;
}

static void call_once_reset(tfl_context *ctx, tfl_node *node) {
  (void)ctx;
  node->data[1] = 0;
}

TFL_DEFINE_KERNEL_RESET(call_once, 129, "CALL_ONCE", call_once_prepare, call_once_eval,
                        call_once_reset);
