/* ASSIGN_VARIABLE: copies input 1 into the resource variable of handle input 0. The first
 * ASSIGN_VARIABLE prepared for a variable binds its storage (the value's size). */
#include "tfl_kernel_resource.h"

static tfl_status assign_variable_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *value = tfl_node_input(ctx, node, 1);
  if (node->input_count != 2 || node->output_count != 0 || value == NULL) {
    return TFL_ERR_MODEL_INVALID;
  }
  TFL_ENSURE(tfl_resource_input(ctx, node, 0, &node->data[0]));
  return tfl_resource_bind(ctx, node->data[0], value);
}

static tfl_status assign_variable_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *value = tfl_node_input(ctx, node, 1);
  const tfl_resource *res = tfl_resource_at(ctx, node->data[0]);
  memcpy(res->data, value->data, (size_t)res->bytes); /* same size: checked by bind */
  return TFL_OK;
}

TFL_DEFINE_KERNEL(assign_variable, 144, "ASSIGN_VARIABLE", assign_variable_prepare,
                  assign_variable_eval);
