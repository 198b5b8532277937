/* FILL, int8 and int32 (TFLM reference semantics): every output element is the scalar input 1,
 * copied as it is (no quantization). Input 0 is a constant int32/int64 vector that must equal the
 * output's shape; the value must be a scalar (rank 0) of the output's type. */
#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

static tfl_status fill_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *dims = tfl_node_input(ctx, node, 0);
  const tfl_tensor *value = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t i;
  if (dims == NULL || value == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if ((value->type != TFL_TYPE_INT8 && value->type != TFL_TYPE_INT32) || out->type != value->type)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (dims->type != TFL_TYPE_INT32 && dims->type != TFL_TYPE_INT64) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_index_ok(dims)) return TFL_ERR_BAD_BUFFER;
  if (value->dims_count != 0 || value->data == NULL ||
      value->bytes != (value->type == TFL_TYPE_INT8 ? 1 : 4))
    return TFL_ERR_BAD_SHAPE;
  if (dims->dims_count != 1 || tfl_tensor_elements(dims) != (int32_t)out->dims_count)
    return TFL_ERR_BAD_SHAPE;
  for (i = 0; i < (int32_t)out->dims_count; ++i)
    if (tfl_index_at(dims, i) != out->dims[i]) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

static tfl_status fill_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *value = tfl_node_input(ctx, node, 1);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  uint8_t *y = (uint8_t *)out->data;
  int32_t i;
  if (value->bytes == 1) {
    memset(y, *(const uint8_t *)value->data, (size_t)out->bytes);
    return TFL_OK;
  }
  for (i = 0; i + value->bytes <= out->bytes; i += value->bytes)
    memcpy(y + i, value->data, (size_t)value->bytes); /* constants may be unaligned */
  return TFL_OK;
}

TFL_DEFINE_KERNEL(fill, 94, "FILL", fill_prepare, fill_eval);
