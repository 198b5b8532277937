/* BROADCAST_ARGS, int32 (TFLM reference semantics): the broadcast of two shapes given as int32
 * vectors, aligned at their last elements; a missing element counts as 1. Where neither is 1
 * they must be equal (eval fails with TFL_ERR_BAD_ARGUMENT otherwise; TFLM aborts). The output
 * vector is filled from its last element back, whatever its length. */
#include "tfl_kernel.h"

static tfl_status broadcast_args_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *s1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *s2 = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (s1 == NULL || s2 == NULL || out == NULL || node->input_count != 2 || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if (s1->type != TFL_TYPE_INT32 || s2->type != TFL_TYPE_INT32 || out->type != TFL_TYPE_INT32)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (s1->dims_count != 1 || s2->dims_count != 1 || out->dims_count != 1) return TFL_ERR_BAD_SHAPE;
  if (s1->bytes != s1->dims[0] * 4 || s2->bytes != s2->dims[0] * 4) return TFL_ERR_BAD_BUFFER;
  return TFL_OK;
}

/* Element `back` counted from the end of a shape vector; 1 before its start. */
static int32_t broadcast_args_at(const tfl_tensor *t, int32_t back) {
  int32_t v;
  if (back >= t->dims[0]) return 1;
  memcpy(&v, (const uint8_t *)t->data + (size_t)(t->dims[0] - 1 - back) * 4, 4);
  return v;
}

static tfl_status broadcast_args_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *s1 = tfl_node_input(ctx, node, 0);
  const tfl_tensor *s2 = tfl_node_input(ctx, node, 1);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t *y = (int32_t *)out->data;
  const int32_t n = out->dims[0];
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t a = broadcast_args_at(s1, i);
    const int32_t b = broadcast_args_at(s2, i);
    if (a != 1 && b != 1 && a != b) return TFL_ERR_BAD_ARGUMENT;
    y[n - 1 - i] = a == 1 ? b : a;
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(broadcast_args, 145, "BROADCAST_ARGS", broadcast_args_prepare,
                  broadcast_args_eval);
