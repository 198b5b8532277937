/* SPACE_TO_DEPTH / DEPTH_TO_SPACE's shared checks and copy (see the header). */
#include "tfl_kernel_space_depth.h"

#define TFL_BUILTIN_SPACE_TO_DEPTH 26

tfl_status tfl_space_depth_prepare(tfl_context *ctx, tfl_node *node) {
  const int to_depth = node->builtin_code == TFL_BUILTIN_SPACE_TO_DEPTH;
  const tfl_tensor *in, *out, *space, *depth;
  int32_t bs = 0;
  if (node->input_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, 0, &in, NULL, &out));
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, 0, &bs)); /* {SpaceToDepth,DepthToSpace}Options */
  if (bs < 1) return TFL_ERR_UNSUPPORTED_OPTION;
  if (in->dims_count != 4 || out->dims_count != 4) return TFL_ERR_BAD_SHAPE;
  if (!to_depth && bs > 46340) return TFL_ERR_UNSUPPORTED_OPTION; /* bs * bs fits in int32 */
  space = to_depth ? in : out;
  depth = to_depth ? out : in;
  if (depth->dims[0] != space->dims[0] || (int64_t)depth->dims[1] * bs != space->dims[1] ||
      (int64_t)depth->dims[2] * bs != space->dims[2] ||
      (int64_t)space->dims[3] * bs * bs != depth->dims[3])
    return TFL_ERR_BAD_SHAPE;
  node->data[0] = bs;
  node->data[1] = to_depth;
  return TFL_OK;
}

tfl_status tfl_space_depth_eval(tfl_context *ctx, tfl_node *node) {
  const int to_depth = node->data[1];
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const tfl_tensor *depth = to_depth ? out : in;
  const tfl_tensor *space = to_depth ? in : out;
  tfl_space_depth_copy((const int8_t *)in->data, (int8_t *)out->data, in->dims[0], depth->dims[1],
                       depth->dims[2], node->data[0], space->dims[3], to_depth);
  return TFL_OK;
}

void tfl_space_depth_copy(const int8_t *src, int8_t *dst, int32_t batches, int32_t h, int32_t w,
                          int32_t bs, int32_t c, int to_depth) {
  int32_t b, y, x, i, j;
  for (b = 0; b < batches; ++b)
    for (y = 0; y < h; ++y)
      for (x = 0; x < w; ++x)
        for (i = 0; i < bs; ++i)
          for (j = 0; j < bs; ++j) { /* C contiguous bytes in both */
            const size_t row = (size_t)(b * h + y) * (size_t)bs + (size_t)i;
            const size_t space = (row * (size_t)w * (size_t)bs + (size_t)x * bs + j) * (size_t)c;
            const size_t depth =
                (((size_t)(b * h + y) * w + x) * bs * bs + (size_t)i * bs + j) * (size_t)c;
            memcpy(dst + (to_depth ? depth : space), src + (to_depth ? space : depth), (size_t)c);
          }
}
