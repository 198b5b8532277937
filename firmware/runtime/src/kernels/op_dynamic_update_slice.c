/* DYNAMIC_UPDATE_SLICE, int8 / int16 / int32 (TFLM reference semantics): the output is the
 * operand with the update written over it at the start indices (input 2, an int32/int64 vector,
 * one per dim, read at eval: it may be computed). Each start index is clamped to
 * [0, operand dim - update dim], so the update always lies inside. */
#include "tfl_kernel.h"

typedef struct {
  int32_t elem; /* bytes per element */
  int32_t rank;
  int32_t whole; /* 1: the update has every element of the operand */
} tfl_dus_data;
TFL_OP_DATA_FITS(tfl_dus_data);

static int32_t dus_elem_size(int32_t type) {
  switch (type) {
    case TFL_TYPE_INT8:
      return 1;
    case TFL_TYPE_INT16:
      return 2;
    case TFL_TYPE_INT32:
      return 4;
    default:
      return 0;
  }
}

static tfl_status dus_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *operand = tfl_node_input(ctx, node, 0);
  const tfl_tensor *update = tfl_node_input(ctx, node, 1);
  const tfl_tensor *start = tfl_node_input(ctx, node, 2);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_dus_data d;
  int32_t i;
  if (operand == NULL || update == NULL || start == NULL || out == NULL || node->input_count != 3 ||
      node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  d.elem = dus_elem_size(operand->type);
  if (d.elem == 0 || update->type != operand->type || out->type != operand->type)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (start->type != TFL_TYPE_INT32 && start->type != TFL_TYPE_INT64)
    return TFL_ERR_UNSUPPORTED_TYPE;
  d.rank = operand->dims_count;
  if (d.rank < 1 || !tfl_same_shape(operand, out) || (int32_t)update->dims_count != d.rank)
    return TFL_ERR_BAD_SHAPE;
  if (start->dims_count != 1 || start->dims[0] != d.rank) return TFL_ERR_BAD_SHAPE;
  if (start->bytes != d.rank * (start->type == TFL_TYPE_INT32 ? 4 : 8)) return TFL_ERR_BAD_BUFFER;
  for (i = 0; i < d.rank; ++i)
    if (update->dims[i] > operand->dims[i]) return TFL_ERR_BAD_SHAPE;
  d.whole = tfl_tensor_elements(update) == tfl_tensor_elements(operand);
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

/* Start index `i`, clamped to [0, room]. */
static int32_t dus_start(const tfl_tensor *start, int32_t i, int32_t room) {
  int64_t v;
  if (start->type == TFL_TYPE_INT32) {
    int32_t v32;
    memcpy(&v32, (const uint8_t *)start->data + (size_t)i * 4, 4);
    v = v32;
  } else {
    memcpy(&v, (const uint8_t *)start->data + (size_t)i * 8, 8);
  }
  return (int32_t)(v < 0 ? 0 : (v > room ? room : v));
}

static tfl_status dus_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *operand = tfl_node_input(ctx, node, 0);
  const tfl_tensor *update = tfl_node_input(ctx, node, 1);
  const tfl_tensor *start = tfl_node_input(ctx, node, 2);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const uint8_t *u = (const uint8_t *)update->data;
  uint8_t *y = (uint8_t *)out->data;
  int32_t first[TFL_MAX_DIMS];
  int32_t ostride[TFL_MAX_DIMS];
  int32_t idx[TFL_MAX_DIMS];
  int32_t rows = 1;
  int32_t row_bytes;
  int32_t r;
  int32_t k;
  tfl_dus_data d;
  memcpy(&d, node->data, sizeof d);
  if (d.whole) {
    memmove(y, u, (size_t)out->bytes);
    return TFL_OK;
  }
  if (out->data != operand->data) memmove(y, operand->data, (size_t)out->bytes);
  if (tfl_tensor_elements(update) == 0) return TFL_OK;
  ostride[d.rank - 1] = d.elem;
  for (k = d.rank - 2; k >= 0; --k) ostride[k] = ostride[k + 1] * operand->dims[k + 1];
  for (k = 0; k < d.rank; ++k) {
    first[k] = dus_start(start, k, operand->dims[k] - update->dims[k]);
    idx[k] = 0;
    if (k < d.rank - 1) rows *= update->dims[k];
  }
  row_bytes = update->dims[d.rank - 1] * d.elem;
  /* one row (the innermost dim of the update) at a time, the outer dims as an odometer */
  for (r = 0; r < rows; ++r) {
    int32_t off = first[d.rank - 1] * d.elem;
    for (k = 0; k < d.rank - 1; ++k) off += (first[k] + idx[k]) * ostride[k];
    memcpy(y + off, u + (size_t)r * row_bytes, (size_t)row_bytes);
    for (k = d.rank - 2; k >= 0; --k) {
      if (++idx[k] < update->dims[k]) break;
      idx[k] = 0;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(dynamic_update_slice, 151, "DYNAMIC_UPDATE_SLICE", dus_prepare, dus_eval);
