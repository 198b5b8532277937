/* DEPTH_TO_SPACE, int8 NHWC (TFLM reference semantics; the inverse of SPACE_TO_DEPTH):
 *   out[b][h * block_size + i][w * block_size + j][c] = in[b][h][w][(i * block_size + j) * C + c]
 * with C = input channels / block_size^2. Bytes are copied as they are (no quantization).
 * DepthToSpaceOptions.block_size >= 1; the input channels must be a multiple of its square. */
#include "tfl_kernel.h"

static tfl_status depth_to_space_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t bs = 0;
  tfl_status st;
  if (in == NULL || out == NULL || node->input_count != 1) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  st = tfl_option_i32(ctx, node, 0, 0, &bs); /* DepthToSpaceOptions.block_size */
  if (st != TFL_OK) return st;
  if (bs < 1 || bs > 46340) return TFL_ERR_UNSUPPORTED_OPTION; /* bs * bs fits in int32 */
  if (in->dims_count != 4 || out->dims_count != 4) return TFL_ERR_BAD_SHAPE;
  if (in->dims[3] % (bs * bs) != 0 || out->dims[0] != in->dims[0] ||
      (int64_t)out->dims[1] != (int64_t)in->dims[1] * bs ||
      (int64_t)out->dims[2] != (int64_t)in->dims[2] * bs || out->dims[3] != in->dims[3] / (bs * bs))
    return TFL_ERR_BAD_SHAPE;
  node->data[0] = bs;
  return TFL_OK;
}

static tfl_status depth_to_space_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = (const int8_t *)in->data;
  int8_t *y = (int8_t *)out->data;
  const int32_t bs = node->data[0];
  const int32_t batches = in->dims[0];
  const int32_t in_h = in->dims[1];
  const int32_t in_w = in->dims[2];
  const int32_t out_w = out->dims[2];
  const int32_t c = out->dims[3];
  int32_t b, h, w, i, j;
  for (b = 0; b < batches; ++b)
    for (h = 0; h < in_h; ++h)
      for (w = 0; w < in_w; ++w)
        for (i = 0; i < bs; ++i)
          for (j = 0; j < bs; ++j) { /* C contiguous bytes in both */
            const int32_t row = (b * in_h + h) * bs + i;
            memcpy(y + ((size_t)row * out_w + (size_t)w * bs + j) * c,
                   x + (((size_t)(b * in_h + h) * in_w + w) * bs * bs + (size_t)i * bs + j) * c,
                   (size_t)c);
          }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(depth_to_space, 5, "DEPTH_TO_SPACE", depth_to_space_prepare,
                  depth_to_space_eval);
