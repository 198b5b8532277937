/* VAR_HANDLE: the handle (an int32 resource id) of the resource variable named by its options
 * (VarHandleOptions: 0 container, 1 shared_name). Every VAR_HANDLE with the same name, in any
 * subgraph, gives the same id; ids count up in prepare order, which is also the order of the
 * resource entries in the memory plan. */
#include "tfl_kernel_resource.h"

static tfl_status var_handle_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (node->input_count != 0 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  if (!tfl_is_resource_handle(out)) return TFL_ERR_UNSUPPORTED_TYPE;
  const uint8_t *container, *name;
  uint32_t container_len, name_len;
  TFL_ENSURE(tfl_option_string(ctx, node, 0, &container, &container_len));
  TFL_ENSURE(tfl_option_string(ctx, node, 1, &name, &name_len));
  TFL_ENSURE(tfl_resource_id(ctx, container, container_len, name, name_len, &node->data[0]));
  /* the ops after it read the id in their prepare */
  memcpy(out->data, &node->data[0], sizeof node->data[0]);
  return TFL_OK;
}

static tfl_status var_handle_eval(tfl_context *ctx, tfl_node *node) {
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  memcpy(out->data, &node->data[0], sizeof node->data[0]);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(var_handle, 142, "VAR_HANDLE", var_handle_prepare, var_handle_eval);
