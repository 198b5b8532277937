/* ZEROS_LIKE, int8 and int32 (TFLM reference semantics): every output byte is 0 — the stored
 * value 0, not the zero point (TFLM writes T(0) whatever the quantization). */
#include "tfl_kernel.h"

static tfl_status zeros_like_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in == NULL || out == NULL || node->input_count != 1) return TFL_ERR_MODEL_INVALID;
  if ((in->type != TFL_TYPE_INT8 && in->type != TFL_TYPE_INT32) || out->type != in->type)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_same_shape(in, out)) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

static tfl_status zeros_like_eval(tfl_context *ctx, tfl_node *node) {
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  memset(out->data, 0, (size_t)out->bytes);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(zeros_like, 93, "ZEROS_LIKE", zeros_like_prepare, zeros_like_eval);
