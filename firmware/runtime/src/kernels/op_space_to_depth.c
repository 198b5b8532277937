/* SPACE_TO_DEPTH, int8 NHWC (TFLM reference semantics).
 *
 * Each block_size x block_size patch of the input becomes one output pixel:
 *   out[b][h][w][(i * block_size + j) * C + c] = in[b][h * block_size + i][w * block_size + j][c]
 * Bytes are copied as they are (no quantization). Height and width must be multiples of
 * SpaceToDepthOptions.block_size (>= 1). */
#include "tfl_kernel.h"

static tfl_status space_to_depth_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t bs = 0;
  tfl_status st;
  if (in == NULL || out == NULL || node->input_count != 1) return TFL_ERR_MODEL_INVALID;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  st = tfl_option_i32(ctx, node, 0, 0, &bs); /* SpaceToDepthOptions.block_size */
  if (st != TFL_OK) return st;
  if (bs < 1) return TFL_ERR_UNSUPPORTED_OPTION;
  if (in->dims_count != 4 || out->dims_count != 4) return TFL_ERR_BAD_SHAPE;
  if (in->dims[1] % bs != 0 || in->dims[2] % bs != 0 || out->dims[0] != in->dims[0] ||
      out->dims[1] != in->dims[1] / bs || out->dims[2] != in->dims[2] / bs ||
      (int64_t)out->dims[3] != (int64_t)in->dims[3] * bs * bs)
    return TFL_ERR_BAD_SHAPE;
  node->data[0] = bs;
  return TFL_OK;
}

static tfl_status space_to_depth_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = (const int8_t *)in->data;
  int8_t *y = (int8_t *)out->data;
  const int32_t bs = node->data[0];
  const int32_t batches = in->dims[0];
  const int32_t out_h = out->dims[1];
  const int32_t out_w = out->dims[2];
  const int32_t in_w = in->dims[2];
  const int32_t c = in->dims[3];
  int32_t b, h, w, i, j;
  for (b = 0; b < batches; ++b)
    for (h = 0; h < out_h; ++h)
      for (w = 0; w < out_w; ++w)
        for (i = 0; i < bs; ++i)
          for (j = 0; j < bs; ++j) { /* one input pixel's channels, contiguous in both */
            const int32_t row = (b * out_h + h) * bs + i;
            memcpy(y, x + ((size_t)row * in_w + (size_t)w * bs + j) * c, (size_t)c);
            y += c;
          }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(space_to_depth, 26, "SPACE_TO_DEPTH", space_to_depth_prepare,
                  space_to_depth_eval);
