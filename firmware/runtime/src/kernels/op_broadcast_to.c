/* BROADCAST_TO, int8 (TFLM reference semantics).
 *
 * Repeats the input NumPy-style to the shape given by input 1 (a constant int32/int64 vector,
 * which must equal the output's shape; 1 to 5 dims, as TFLM). Bytes are
 * copied as they are (no quantization). */
#include "tfl_kernel.h"
#include "tfl_kernel_expand.h"
#include "tfl_kernel_index.h"

static tfl_status broadcast_to_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *shape, *out;
  int32_t i;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPES_INDEX, &in, &shape, &out));
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
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int8_t *y = tfl_output_i8(ctx, node, 0);
  const int32_t total = tfl_tensor_elements(out);
  int32_t strides[1][TFL_MAX_DIMS];
  int32_t offset = 0;
  int32_t idx[TFL_MAX_DIMS];
  int32_t e;
  tfl_expand_strides(in, out, strides[0]);
  memset(idx, 0, sizeof idx);
  for (e = 0; e < total; ++e) {
    y[e] = x[offset];
    tfl_expand_next(out, idx, 1, strides, &offset);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(broadcast_to, 130, "BROADCAST_TO", broadcast_to_prepare, broadcast_to_eval);
