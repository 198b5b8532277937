/* READ_VARIABLE: copies the resource variable of handle input 0 into output 0. The variable is
 * bound by an ASSIGN_VARIABLE's prepare, possibly in a subgraph prepared later (the init
 * subgraph), so its size is checked when it is read. */
#include "tfl_kernel_resource.h"

static tfl_status read_variable_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (node->input_count != 1 || node->output_count != 1 || out == NULL) {
    return TFL_ERR_MODEL_INVALID;
  }
  return tfl_resource_input(ctx, node, 0, &node->data[0]);
}

static tfl_status read_variable_eval(tfl_context *ctx, tfl_node *node) {
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const tfl_resource *res = tfl_resource_at(ctx, node->data[0]);
  /* a variable no ASSIGN_VARIABLE bound, or bound with another size */
  if (res == NULL || res->data == NULL || res->bytes != out->bytes) return TFL_ERR_BAD_SHAPE;
  memcpy(out->data, res->data, (size_t)res->bytes);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(read_variable, 143, "READ_VARIABLE", read_variable_prepare, read_variable_eval);
