/* MIRROR_PAD, int8 (TFLM reference semantics).
 *
 * Input 1: constant int32/int64 paddings [rank, 2] (before, after), non-negative. Outside the
 * input, each dim is mirrored: MirrorPadOptions.mode REFLECT (0) leaves the edge element out
 * (pad at most dim - 1), SYMMETRIC (1) repeats it (pad at most dim), TensorFlow's limits. Per
 * dim of size n, with q = p - before for output position p, the input position is
 *   q < 0:   -q - 1 + r          (r = 1 for REFLECT, 0 for SYMMETRIC)
 *   q >= n:  2n - 1 - q - r
 *   else:    q
 * Bytes are copied as they are (no quantization). */
#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

typedef struct {
  int32_t rank;
  int32_t symmetric;
  int32_t before[TFL_MAX_DIMS];
} tfl_mirror_pad_data;
TFL_OP_DATA_FITS(tfl_mirror_pad_data);

static tfl_status mirror_pad_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *pads, *out;
  tfl_mirror_pad_data d;
  int8_t mode = 0;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPES_INDEX, &in, &pads, &out));
  if (!tfl_index_ok(pads)) return TFL_ERR_BAD_BUFFER;
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, 0, &mode)); /* MirrorPadOptions.mode */
  if (mode != 0 && mode != 1) return TFL_ERR_UNSUPPORTED_OPTION;
  memset(&d, 0, sizeof d);
  d.rank = (int32_t)in->dims_count;
  d.symmetric = mode;
  if (d.rank < 1 || (int32_t)out->dims_count != d.rank || pads->dims_count != 2 ||
      pads->dims[0] != d.rank || pads->dims[1] != 2)
    return TFL_ERR_BAD_SHAPE;
  for (int32_t i = 0; i < d.rank; ++i) {
    const int64_t before = tfl_index_at(pads, 2 * i);
    const int64_t after = tfl_index_at(pads, 2 * i + 1);
    const int64_t limit = (int64_t)in->dims[i] - 1 + d.symmetric;
    if (before < 0 || after < 0 || before > limit || after > limit) return TFL_ERR_BAD_ARGUMENT;
    if ((int64_t)out->dims[i] != in->dims[i] + before + after) return TFL_ERR_BAD_SHAPE;
    d.before[i] = (int32_t)before;
  }
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status mirror_pad_eval(tfl_context *ctx, tfl_node *node) {
  tfl_io_i8 io = tfl_io_i8_of(ctx, node);
  const int32_t total = tfl_tensor_elements(io.out);
  int32_t strides[TFL_MAX_DIMS];
  int32_t idx[TFL_MAX_DIMS];
  int32_t e;
  int32_t i;
  tfl_mirror_pad_data d;
  memcpy(&d, node->data, sizeof d);
  strides[d.rank - 1] = 1;
  for (i = d.rank - 1; i > 0; --i) strides[i - 1] = strides[i] * io.in->dims[i];
  memset(idx, 0, sizeof idx);
  for (e = 0; e < total; ++e) {
    int32_t off = 0;
    for (i = 0; i < d.rank; ++i) {
      const int32_t n = io.in->dims[i];
      int32_t p = idx[i] - d.before[i];
      if (p < 0) {
        p = -p - 1 + (1 - d.symmetric); /* mirror of -1 is 0 (SYMMETRIC) or 1 (REFLECT) */
      } else if (p >= n) {
        p = 2 * n - 1 - p - (1 - d.symmetric); /* mirror of n is n-1 or n-2 */
      }
      off += p * strides[i];
    }
    io.y[e] = io.x[off];
    for (i = d.rank - 1; i >= 0; --i) {
      if (++idx[i] < io.out->dims[i]) break;
      idx[i] = 0;
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(mirror_pad, 100, "MIRROR_PAD", mirror_pad_prepare, mirror_pad_eval);
