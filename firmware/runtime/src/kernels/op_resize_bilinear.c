/* RESIZE_BILINEAR, int8 NHWC (TFLM reference arithmetic).
 *
 * Input 1 is a constant int32 [2] (new height, new width) equal to the output's. Positions are
 * fixed point with 10 fraction bits: scale = round(2^10 * in / out), or with align_corners
 * round(2^10 * (in - 1) / (out - 1)) when out > 1; for output row y the source is
 *   s = y * scale (+ scale / 2 - 2^9 with half_pixel_centers),
 *   y0 = max(s / 2^10, 0), y1 = min(ceil(s / 2^10), in - 1) (C division, toward zero),
 * and the same for columns. The four neighbours are weighted with (2^10 - (s - 2^10 y0)) and
 * (s - 2^10 y0) per axis and summed in int64 (20 fraction bits); the result is rounded half
 * away from zero: (sum +/- 2^19) / 2^20. Stored values are interpolated directly: TFLM applies
 * no requantization. */
#include "tfl_kernel.h"

typedef struct {
  int32_t half_pixel;
  int32_t height_scale; /* 10 fraction bits */
  int32_t width_scale;
} tfl_resize_bilinear_data;
TFL_OP_DATA_FITS(tfl_resize_bilinear_data);

static int32_t resize_scale(int32_t in, int32_t out, int align_corners) {
  if (align_corners && out > 1)
    return (int32_t)((1024 * (int64_t)(in - 1) + (out - 1) / 2) / (out - 1));
  return (int32_t)((1024 * (int64_t)in + out / 2) / out);
}

static tfl_status resize_bilinear_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *size, *out;
  tfl_resize_bilinear_data d;
  int align_corners = 0;
  int half_pixel = 0;
  int32_t new_size[2];
  tfl_status st;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPE_BIT(TFL_TYPE_INT32), &in,
                                 &size, &out));
  if (!size->is_constant || size->data == NULL || size->dims_count != 1 || size->dims[0] != 2 ||
      size->bytes != 8)
    return TFL_ERR_BAD_BUFFER;
  st = tfl_option_bool(ctx, node, 2, 0, &align_corners); /* ResizeBilinearOptions */
  if (st != TFL_OK) return st;
  st = tfl_option_bool(ctx, node, 3, 0, &half_pixel);
  if (st != TFL_OK) return st;
  if (align_corners && half_pixel) return TFL_ERR_UNSUPPORTED_OPTION; /* TFLM refuses both */
  memcpy(new_size, size->data, sizeof new_size);
  if (in->dims_count != 4 || out->dims_count != 4 || out->dims[0] != in->dims[0] ||
      out->dims[3] != in->dims[3] || out->dims[1] != new_size[0] || out->dims[2] != new_size[1])
    return TFL_ERR_BAD_SHAPE;
  if (in->dims[1] < 1 || in->dims[2] < 1 || new_size[0] < 1 || new_size[1] < 1 ||
      in->dims[1] > 65535 || in->dims[2] > 65535 || new_size[0] > 65535 || new_size[1] > 65535)
    return TFL_ERR_BAD_SHAPE; /* keeps y * scale within int32 */
  d.half_pixel = half_pixel;
  d.height_scale = resize_scale(in->dims[1], new_size[0], align_corners);
  d.width_scale = resize_scale(in->dims[2], new_size[1], align_corners);
  return tfl_node_set_data(node, &d, sizeof d);
}

/* Source position (10 fraction bits) and the two neighbours of output index v. */
static void resize_source(int32_t v, int32_t scale, int32_t half_pixel, int32_t in_size,
                          int32_t *pos, int32_t *lo, int32_t *hi) {
  const int32_t s = half_pixel ? v * scale + scale / 2 - 512 : v * scale;
  *pos = s;
  *lo = tfl_max(s / 1024, 0);
  *hi = tfl_min((s + 1023) / 1024, in_size - 1);
}

static tfl_status resize_bilinear_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int8_t *o = tfl_output_i8(ctx, node, 0);
  const int32_t batches = in->dims[0];
  const int32_t in_h = in->dims[1];
  const int32_t in_w = in->dims[2];
  const int32_t depth = in->dims[3];
  const int32_t out_h = out->dims[1];
  const int32_t out_w = out->dims[2];
  int32_t b, oy, ox, c;
  tfl_resize_bilinear_data d;
  memcpy(&d, node->data, sizeof d);
  for (b = 0; b < batches; ++b) {
    for (oy = 0; oy < out_h; ++oy) {
      int32_t sy, y0, y1;
      resize_source(oy, d.height_scale, d.half_pixel, in_h, &sy, &y0, &y1);
      for (ox = 0; ox < out_w; ++ox) {
        int32_t sx, x0, x1;
        const int8_t *r0;
        const int8_t *r1;
        int64_t wy1, wy0, wx1, wx0;
        resize_source(ox, d.width_scale, d.half_pixel, in_w, &sx, &x0, &x1);
        wy1 = sy - 1024 * y0;
        wy0 = 1024 - wy1;
        wx1 = sx - 1024 * x0;
        wx0 = 1024 - wx1;
        r0 = x + ((size_t)b * in_h + y0) * in_w * depth;
        r1 = x + ((size_t)b * in_h + y1) * in_w * depth;
        for (c = 0; c < depth; ++c) {
          const int64_t sum = r0[x0 * depth + c] * wy0 * wx0 + r1[x0 * depth + c] * wy1 * wx0 +
                              r0[x1 * depth + c] * wy0 * wx1 + r1[x1 * depth + c] * wy1 * wx1;
          const int64_t round = sum > 0 ? ((int64_t)1 << 19) : -((int64_t)1 << 19);
          *o++ = (int8_t)((sum + round) / ((int64_t)1 << 20));
        }
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(resize_bilinear, 23, "RESIZE_BILINEAR", resize_bilinear_prepare,
                  resize_bilinear_eval);
