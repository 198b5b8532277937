/* The shared prepare and eval of the view kernels (see the header). */
#include "tfl_kernel_view.h"

tfl_status tfl_view_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in == NULL || out == NULL || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  if (in->type != out->type) return TFL_ERR_UNSUPPORTED_TYPE;
  if (tfl_tensor_elements(in) != tfl_tensor_elements(out) || in->bytes != out->bytes) {
    return TFL_ERR_BAD_SHAPE;
  }
  return TFL_OK;
}

tfl_status tfl_view_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (out->data != in->data && out->bytes > 0) memmove(out->data, in->data, (size_t)out->bytes);
  return TFL_OK;
}
