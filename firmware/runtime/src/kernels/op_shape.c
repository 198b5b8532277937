/* SHAPE (TFLM reference semantics): the output, an int32 vector with one element per input
 * dim, holds the input's dims. The input's type does not matter (its data is not read). */
#include "tfl_kernel.h"

static tfl_status shape_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in == NULL || out == NULL || node->input_count != 1 || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if (out->type != TFL_TYPE_INT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (out->dims_count != 1 || out->dims[0] != (int32_t)in->dims_count) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

static tfl_status shape_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  memcpy(out->data, in->dims, (size_t)in->dims_count * sizeof in->dims[0]);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(shape, 77, "SHAPE", shape_prepare, shape_eval);
