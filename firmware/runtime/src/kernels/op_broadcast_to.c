/* BROADCAST_TO, int8 and 16x8 int16 (TFLM reference semantics).
 *
 * Repeats the input NumPy-style to the shape given by input 1 (a constant int32/int64 vector,
 * which must equal the output's shape; 1 to 5 dims, as TFLM). Bytes are
 * copied as they are (no quantization): tfl_strided_copy with stride 0 along broadcast dims. */
#include "tfl_kernel.h"
#include "tfl_kernel_expand.h"
#include "tfl_kernel_index.h"

static tfl_status broadcast_to_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *shape, *out;
  int32_t i;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_COPY, TFL_TYPES_INDEX, &in, &shape, &out));
  if (out->type != in->type) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_index_ok(shape)) return TFL_ERR_BAD_BUFFER;
  if (shape->dims_count != 1 || tfl_tensor_elements(shape) != (int32_t)out->dims_count ||
      out->dims_count < 1 || out->dims_count > 5)
    return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < (int32_t)out->dims_count; ++i)
    if (tfl_index_at(shape, i) != out->dims[i]) return TFL_ERR_BAD_SHAPE;
  if (!tfl_expand_ok(in, out)) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

static tfl_status broadcast_to_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t strides[TFL_MAX_DIMS];
  tfl_expand_strides(in, out, strides);
  tfl_strided_copy(in->data, out->data, out->dims_count, out->dims, strides, 0,
                   tfl_copy_bytes(in->type));
  return TFL_OK;
}

TFL_DEFINE_KERNEL(broadcast_to, 130, "BROADCAST_TO", broadcast_to_prepare, broadcast_to_eval);
