/* LOGICAL_NOT, bool: out = 1 where the input byte is 0, else 0. */
#include "tfl_kernel.h"

static tfl_status logical_not_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in == NULL || out == NULL || node->input_count != 1) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_BOOL || out->type != TFL_TYPE_BOOL) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_same_shape(in, out)) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

static tfl_status logical_not_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const uint8_t *x = (const uint8_t *)in->data;
  uint8_t *y = (uint8_t *)out->data;
  int32_t i;
  for (i = 0; i < out->bytes; ++i) y[i] = (uint8_t)(x[i] == 0);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(logical_not, 87, "LOGICAL_NOT", logical_not_prepare, logical_not_eval);
