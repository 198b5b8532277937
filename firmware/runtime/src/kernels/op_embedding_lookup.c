/* EMBEDDING_LOOKUP, int32 ids into an int8 table (TFLM reference semantics): output row i is
 * the table's row ids[i] (rows = the table's first dim, a row = every element of the other
 * dims), copied as stored. An id outside [0, rows) stops eval with TFL_ERR_BAD_ARGUMENT, as
 * TFLM's eval fails, instead of reading past the table. */
#include "tfl_kernel.h"

typedef struct {
  int32_t ids;       /* elements of the ids vector */
  int32_t rows;      /* the table's first dim */
  int32_t row_bytes; /* bytes of one row */
} tfl_embedding_lookup_data;
TFL_OP_DATA_FITS(tfl_embedding_lookup_data);

static tfl_status embedding_lookup_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *ids = tfl_node_input(ctx, node, 0);
  const tfl_tensor *table = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  tfl_embedding_lookup_data d;
  int32_t i;
  if (ids == NULL || table == NULL || out == NULL || node->input_count != 2 ||
      node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if (ids->type != TFL_TYPE_INT32 || table->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (ids->dims_count != 1 || table->dims_count < 2 || out->dims_count != table->dims_count)
    return TFL_ERR_BAD_SHAPE;
  if (ids->bytes != ids->dims[0] * 4) return TFL_ERR_BAD_BUFFER;
  if (out->dims[0] != ids->dims[0]) return TFL_ERR_BAD_SHAPE;
  for (i = 1; i < (int32_t)table->dims_count; ++i)
    if (out->dims[i] != table->dims[i]) return TFL_ERR_BAD_SHAPE;
  d.ids = ids->dims[0];
  d.rows = table->dims[0];
  d.row_bytes = d.rows > 0 ? table->bytes / d.rows : 0;
  memcpy(node->data, &d, sizeof d);
  return TFL_OK;
}

static tfl_status embedding_lookup_eval(tfl_context *ctx, tfl_node *node) {
  const uint8_t *ids = (const uint8_t *)tfl_node_input(ctx, node, 0)->data;
  const int8_t *table = (const int8_t *)tfl_node_input(ctx, node, 1)->data;
  int8_t *y = (int8_t *)tfl_node_output(ctx, node, 0)->data;
  tfl_embedding_lookup_data d;
  int32_t i;
  memcpy(&d, node->data, sizeof d);
  for (i = 0; i < d.ids; ++i) {
    int32_t id;
    memcpy(&id, ids + (size_t)i * 4, 4); /* constant ids are model bytes: maybe unaligned */
    if (id < 0 || id >= d.rows) return TFL_ERR_BAD_ARGUMENT;
    memcpy(y + (size_t)i * d.row_bytes, table + (size_t)id * d.row_bytes, (size_t)d.row_bytes);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(embedding_lookup, 7, "EMBEDDING_LOOKUP", embedding_lookup_prepare,
                  embedding_lookup_eval);
