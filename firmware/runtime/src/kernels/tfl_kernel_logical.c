/* LOGICAL_AND / LOGICAL_OR on bool tensors through the broadcast walk (bool is one byte). */
#include "tfl_kernel_logical.h"

#include "tfl_kernel_broadcast.h"

tfl_status tfl_logical_prepare(tfl_context *ctx, tfl_node *node, tfl_logical_kind kind) {
  const tfl_tensor *in1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *in2 = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in1 == NULL || in2 == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in1->type != TFL_TYPE_BOOL || in2->type != TFL_TYPE_BOOL || out->type != TFL_TYPE_BOOL)
    return TFL_ERR_UNSUPPORTED_TYPE;
  TFL_ENSURE(tfl_broadcast_check(in1, in2, out));
  node->data[0] = (int32_t)kind;
  return TFL_OK;
}

static void logical_row(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                        int32_t step2, int8_t *out, int32_t n) {
  const int is_or = *(const int32_t *)params == TFL_LOGICAL_OR;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int a = in1[i * step1] != 0;
    const int b = in2[i * step2] != 0;
    out[i] = (int8_t)(is_or ? (a | b) : (a & b));
  }
}

tfl_status tfl_logical_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_eval(ctx, node, logical_row);
}
