/* RESIZE_NEAREST_NEIGHBOR (int8 and 16x8 int16: the same copy of 2-byte elements), NHWC, with
 * align_corners and half_pixel_centers.
 *
 * TFLite's reference picks, per axis, the source index
 *   scale = align_corners && out > 1 ? (in - 1) / (float)(out - 1) : in / (float)out
 *   src   = min(align_corners ? round((x + off) * scale) : floor((x + off) * scale), in - 1)
 * (off = 0.5 with half_pixel_centers, then src = max(src, 0)), all in single precision.
 * To stay bit-exact without floating point in eval, prepare splits the float `scale` into
 * mantissa * 2^exponent and eval redoes the float product in integers: the exact product is
 * rounded to 24 significant bits (round half to even, as IEEE does) before floor/round. */
#include "tfl_kernel.h"

typedef struct {
  int32_t mant[2]; /* scale of H and W: mant * 2^expo, mant < 2^24 */
  int32_t expo[2];
  int32_t align_corners;
  int32_t half_pixel;
  int32_t es; /* element bytes: 1 (int8) or 2 (int16) */
} tfl_resize_nn_data;
TFL_OP_DATA_FITS(tfl_resize_nn_data);

static void nn_split_float(float f, int32_t *mant, int32_t *expo) {
  uint32_t bits;
  uint32_t e;
  memcpy(&bits, &f, sizeof(bits));
  e = (bits >> 23) & 0xffu;
  if (e == 0) { /* zero or subnormal */
    *mant = (int32_t)(bits & 0x7fffffu);
    *expo = -149;
  } else {
    *mant = (int32_t)((bits & 0x7fffffu) | 0x800000u);
    *expo = (int32_t)e - 150;
  }
}

/* Source index for output coordinate x along one axis. */
static int32_t nn_source(const tfl_resize_nn_data *d, int axis, int32_t x, int32_t in_size) {
  uint64_t num = d->half_pixel ? 2u * (uint64_t)x + 1u : (uint64_t)x;
  uint64_t q = num * (uint64_t)d->mant[axis];
  int32_t e = d->expo[axis] - (d->half_pixel ? 1 : 0);
  int32_t bits = 0, v;
  uint64_t t;
  for (t = q; t != 0; t >>= 1) ++bits;
  if (bits > 24) { /* the float multiply keeps 24 significant bits, ties to even */
    const int32_t sh = bits - 24;
    const uint64_t rem = q & ((UINT64_C(1) << sh) - 1u);
    const uint64_t half = UINT64_C(1) << (sh - 1);
    q >>= sh;
    if (rem > half || (rem == half && (q & 1u))) ++q;
    e += sh;
  }
  if (q == 0) {
    v = 0;
  } else if (e >= 0) {
    v = (e >= 31 || q > (uint64_t)(INT32_MAX >> e)) ? INT32_MAX : (int32_t)(q << e);
  } else if (-e >= 63) {
    v = 0;
  } else if (d->align_corners) { /* round half away from zero (value is positive) */
    v = (int32_t)((q + (UINT64_C(1) << (-e - 1))) >> -e);
  } else {
    v = (int32_t)(q >> -e);
  }
  if (v > in_size - 1) v = in_size - 1;
  if (v < 0) v = 0;
  return v;
}

static tfl_status resize_nn_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_resize_nn_data *d = (tfl_resize_nn_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *size = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int align = 0, half = 0, a;
  if (in == NULL || size == NULL || out == NULL || node->input_count != 2 ||
      node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
  if ((in->type != TFL_TYPE_INT8 && !TFL_IS_INT16(in)) || out->type != in->type)
    return TFL_ERR_UNSUPPORTED_TYPE;
  d->es = tfl_copy_bytes(in->type);
  if (size->type != TFL_TYPE_INT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!size->is_constant || size->data == NULL) return TFL_ERR_BAD_BUFFER;
  if (size->dims_count != 1 || size->dims[0] != 2 || size->bytes != 2 * (int32_t)sizeof(int32_t))
    return TFL_ERR_BAD_SHAPE;
  if (in->dims_count != 4 || out->dims_count != 4 || in->dims[0] != out->dims[0] ||
      in->dims[3] != out->dims[3])
    return TFL_ERR_BAD_SHAPE;
  TFL_ENSURE(tfl_option_bool(ctx, node, 0, 0, &align));
  TFL_ENSURE(tfl_option_bool(ctx, node, 1, 0, &half));
  d->align_corners = align ? 1 : 0;
  d->half_pixel = half ? 1 : 0;
  for (a = 0; a < 2; ++a) {
    const int32_t in_size = in->dims[1 + a];
    const int32_t out_size = out->dims[1 + a];
    int32_t want;
    float scale;
    memcpy(&want, (const uint8_t *)size->data + (size_t)a * sizeof(int32_t), sizeof(want));
    if (want != out_size) return TFL_ERR_BAD_SHAPE;
    /* float -> integer conversions below are exact only under 2^24 */
    if (in_size < 1 || out_size < 1 || in_size > (1 << 24) || out_size > (1 << 24))
      return TFL_ERR_BAD_SHAPE;
    if (d->align_corners && out_size > 1)
      scale = (float)(in_size - 1) / (float)(out_size - 1);
    else
      scale = (float)in_size / (float)out_size;
    nn_split_float(scale, &d->mant[a], &d->expo[a]);
  }
  return TFL_OK;
}

static tfl_status resize_nn_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_resize_nn_data *d = (const tfl_resize_nn_data *)node->data;
  tfl_io_i8 io = tfl_io_i8_of(ctx, node);
  const int32_t batches = io.out->dims[0], oh = io.out->dims[1], ow = io.out->dims[2];
  const size_t pixel = (size_t)io.out->dims[3] * (size_t)d->es; /* bytes of one pixel */
  const int32_t ih = io.in->dims[1], iw = io.in->dims[2];
  int32_t b, y, x;
  if (pixel == 0) return TFL_OK;
  for (b = 0; b < batches; ++b) {
    for (y = 0; y < oh; ++y) {
      const int32_t sy = nn_source(d, 0, y, ih);
      const int8_t *row = io.x + ((size_t)b * (size_t)ih + (size_t)sy) * (size_t)iw * pixel;
      for (x = 0; x < ow; ++x) {
        const int32_t sx = nn_source(d, 1, x, iw);
        memcpy(io.y, row + (size_t)sx * pixel, pixel);
        io.y += pixel;
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(resize_nearest_neighbor, 97, "RESIZE_NEAREST_NEIGHBOR", resize_nn_prepare,
                  resize_nn_eval);
