/* CAST between the integer types int8, int16, int32 and bool (TFLM reference semantics): each
 * element is converted as a C cast converts it — quantization is ignored, narrowing keeps the low
 * bits (two's complement), a bool output is 1 for every non-zero input. */
#include "tfl_kernel.h"

static int cast_type_ok(int32_t type) {
  return type == TFL_TYPE_INT8 || type == TFL_TYPE_INT16 || type == TFL_TYPE_INT32 ||
         type == TFL_TYPE_BOOL;
}

static tfl_status cast_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (in == NULL || out == NULL || node->input_count != 1 || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if (!cast_type_ok(in->type) || !cast_type_ok(out->type)) return TFL_ERR_UNSUPPORTED_TYPE;
  if (tfl_tensor_elements(in) != tfl_tensor_elements(out)) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

static int32_t cast_load(const void *data, int32_t type, int32_t i) {
  switch (type) {
    case TFL_TYPE_INT8:
      return ((const int8_t *)data)[i];
    case TFL_TYPE_INT16:
      return ((const int16_t *)data)[i];
    case TFL_TYPE_INT32:
      return ((const int32_t *)data)[i];
    default:
      return ((const uint8_t *)data)[i] != 0;
  }
}

/* Keeps the low bits without a signed overflow: through uint32_t, then the two's-complement
 * reading of the narrow value. */
static void cast_store(void *data, int32_t type, int32_t i, int32_t v) {
  const uint32_t u = (uint32_t)v;
  switch (type) {
    case TFL_TYPE_INT8: {
      const int32_t low = (int32_t)(u & 0xFFu);
      ((int8_t *)data)[i] = (int8_t)(low >= 128 ? low - 256 : low);
      break;
    }
    case TFL_TYPE_INT16: {
      const int32_t low = (int32_t)(u & 0xFFFFu);
      ((int16_t *)data)[i] = (int16_t)(low >= 32768 ? low - 65536 : low);
      break;
    }
    case TFL_TYPE_INT32:
      ((int32_t *)data)[i] = v;
      break;
    default:
      ((uint8_t *)data)[i] = (uint8_t)(v != 0);
      break;
  }
}

static tfl_status cast_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t n = tfl_tensor_elements(out);
  int32_t i;
  for (i = 0; i < n; ++i) cast_store(out->data, out->type, i, cast_load(in->data, in->type, i));
  return TFL_OK;
}

TFL_DEFINE_KERNEL(cast, 53, "CAST", cast_prepare, cast_eval);
