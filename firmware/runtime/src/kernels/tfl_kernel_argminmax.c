/* ARG_MAX / ARG_MIN (TFLM reference semantics).
 *
 * Compares the stored int8 values (quantization is monotonic, so no dequantization) along one
 * axis and writes the position of the first extreme value as int32; ties keep the earliest
 * position. The output has the input's shape without the axis. TFLM accepts only an int32
 * axis tensor and an int32 output for int8 inputs; tinyflash also needs the axis constant. */
#include "tfl_kernel_argminmax.h"

#include "tfl_kernel_index.h"

typedef struct {
  int32_t outer;
  int32_t axis_size;
  int32_t inner;
} tfl_argminmax_data;
TFL_OP_DATA_FITS(tfl_argminmax_data);

tfl_status tfl_argminmax_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *axis_t, *out;
  tfl_argminmax_data d;
  int64_t axis;
  int32_t rank;
  int32_t i;
  int64_t outer = 1;
  int64_t inner = 1;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPE_BIT(TFL_TYPE_INT32),
                                 TFL_TYPE_BIT(TFL_TYPE_INT32), &in, &axis_t, &out));
  if (!tfl_index_ok(axis_t) || tfl_tensor_elements(axis_t) != 1) return TFL_ERR_BAD_BUFFER;
  rank = (int32_t)in->dims_count;
  if (rank < 1 || (int32_t)out->dims_count != rank - 1) return TFL_ERR_BAD_SHAPE;
  axis = tfl_index_at(axis_t, 0);
  if (axis < -rank || axis >= rank) return TFL_ERR_BAD_SHAPE;
  if (axis < 0) axis += rank;
  for (i = 0; i < rank; ++i) {
    if (i == (int32_t)axis) continue;
    if (out->dims[i < axis ? i : i - 1] != in->dims[i]) return TFL_ERR_BAD_SHAPE;
    if (i < axis)
      outer *= in->dims[i];
    else
      inner *= in->dims[i];
  }
  if (in->dims[axis] < 1) return TFL_ERR_BAD_SHAPE; /* no position to report */
  d.outer = (int32_t)outer;
  d.axis_size = in->dims[axis];
  d.inner = (int32_t)inner;
  return tfl_node_set_data(node, &d, sizeof d);
}

void tfl_argminmax_eval(tfl_context *ctx, const tfl_node *node, int want_max) {
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int32_t *y = (int32_t *)tfl_node_output(ctx, node, 0)->data;
  tfl_argminmax_data d;
  memcpy(&d, node->data, sizeof d);
  for (int32_t o = 0; o < d.outer; ++o) {
    const int8_t *block = x + (int32_t)o * d.axis_size * d.inner;
    for (int32_t k = 0; k < d.inner; ++k) {
      int8_t best = block[k];
      int32_t best_at = 0;
      for (int32_t a = 1; a < d.axis_size; ++a) {
        const int8_t v = block[a * d.inner + k];
        if (want_max ? v > best : v < best) {
          best = v;
          best_at = a;
        }
      }
      y[o * d.inner + k] = best_at;
    }
  }
}
