/* Shape checks shared by SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND (see the header). */
#include "tfl_kernel_batchspace.h"

#include "tfl_kernel_index.h"

TFL_OP_DATA_FITS(tfl_batchspace_data);

tfl_status tfl_batchspace_prepare(tfl_context *ctx, tfl_node *node, int to_batch) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *block = tfl_node_input(ctx, node, 1);
  const tfl_tensor *pads = tfl_node_input(ctx, node, 2);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const tfl_tensor *space;
  const tfl_tensor *batch;
  tfl_batchspace_data d;
  int32_t rank;
  int32_t spatial;
  int32_t i;
  int64_t blocks = 1;
  if (in == NULL || block == NULL || pads == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (block->type != TFL_TYPE_INT32 || pads->type != TFL_TYPE_INT32)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_index_ok(block) || !tfl_index_ok(pads)) return TFL_ERR_BAD_BUFFER;
  rank = (int32_t)in->dims_count;
  if ((rank != 3 && rank != 4) || (int32_t)out->dims_count != rank) return TFL_ERR_BAD_SHAPE;
  spatial = rank - 2;
  if (block->dims_count != 1 || block->dims[0] != spatial || pads->dims_count != 2 ||
      pads->dims[0] != spatial || pads->dims[1] != 2)
    return TFL_ERR_BAD_SHAPE;
  space = to_batch ? in : out;
  batch = to_batch ? out : in;
  memset(&d, 0, sizeof d);
  d.block_w = 1;
  d.space_w = 1;
  d.batch_w = 1;
  for (i = 0; i < spatial; ++i) {
    const int64_t b = tfl_index_at(block, i);
    const int64_t before = tfl_index_at(pads, 2 * i);
    const int64_t after = tfl_index_at(pads, 2 * i + 1);
    if (b < 1 || b > 65535 || before < 0 || after < 0) return TFL_ERR_BAD_ARGUMENT;
    /* padded space = batch-side spatial * block */
    if ((int64_t)space->dims[1 + i] + before + after != (int64_t)batch->dims[1 + i] * b)
      return TFL_ERR_BAD_SHAPE;
    if (to_batch ? (before >= batch->dims[1 + i] * b) : (before > batch->dims[1 + i] * b))
      return TFL_ERR_BAD_SHAPE;
    blocks *= b;
    if (i == 0) {
      d.block_h = (int32_t)b;
      d.before_h = (int32_t)before;
    } else {
      d.block_w = (int32_t)b;
      d.before_w = (int32_t)before;
    }
  }
  if ((int64_t)batch->dims[0] != (int64_t)space->dims[0] * blocks ||
      space->dims[rank - 1] != batch->dims[rank - 1])
    return TFL_ERR_BAD_SHAPE;
  d.space_n = space->dims[0];
  d.space_h = space->dims[1];
  d.batch_h = batch->dims[1];
  if (rank == 4) {
    d.space_w = space->dims[2];
    d.batch_w = batch->dims[2];
  }
  d.depth = space->dims[rank - 1];
  d.pad_value = out->zero_point;
  return tfl_node_set_data(node, &d, sizeof d);
}
