#include "tfl_kernel_resource.h"

int tfl_is_resource_handle(const tfl_tensor *t) {
  return t != NULL && (t->type == TFL_TYPE_RESOURCE || t->type == TFL_TYPE_INT32) &&
         tfl_tensor_elements(t) == 1 && t->bytes == 4 && t->data != NULL;
}

tfl_status tfl_resource_input(tfl_context *ctx, const tfl_node *node, int32_t i, int32_t *id) {
  const tfl_tensor *handle = tfl_node_input(ctx, node, i);
  if (!tfl_is_resource_handle(handle)) return TFL_ERR_UNSUPPORTED_TYPE;
  int32_t value;
  memcpy(&value, handle->data, sizeof value);
  /* whatever the bytes hold (a handle no VAR_HANDLE wrote), only an existing id is used */
  if (tfl_resource_at(ctx, value) == NULL) return TFL_ERR_MODEL_INVALID;
  *id = value;
  return TFL_OK;
}
