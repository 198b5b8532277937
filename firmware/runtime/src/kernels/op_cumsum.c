/* CUMSUM, int8 (TFLM reference arithmetic): running sums along one axis (input 1, a constant
 * int32 scalar or one-element vector, negative counts from the back), optionally exclusive
 * (each output is the sum of the values before it) and/or reversed (sums run from the end).
 * The sums are tfl_kernel_scaled_sum.h's (each one starts from the rescaled -zero_point as
 * TFLM's does). Options: exclusive (field 0), reverse (field 1). */
#include "tfl_kernel_index.h"
#include "tfl_kernel_scaled_sum.h"

typedef struct {
  tfl_scaled_sum sum;
  int32_t before; /* elements of the dims before the axis (the outer loop) */
  int32_t depth;  /* the axis' size */
  int32_t after;  /* elements of the dims after the axis (the stride along the axis) */
  int32_t exclusive;
  int32_t reverse;
} tfl_cumsum_data;
TFL_OP_DATA_FITS(tfl_cumsum_data);

static tfl_status cumsum_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in;
  const tfl_tensor *axis_t;
  const tfl_tensor *out;
  tfl_cumsum_data d;
  int exclusive = 0;
  int reverse = 0;
  int32_t axis;
  if (node->input_count != 2 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_INT8, TFL_TYPE_BIT(TFL_TYPE_INT32), &in,
                                 &axis_t, &out));
  if (!tfl_index_ok(axis_t) || tfl_tensor_elements(axis_t) != 1) return TFL_ERR_BAD_ARGUMENT;
  memset(&d, 0, sizeof d);
  TFL_ENSURE(tfl_scaled_sum_prepare(in, out, &d.sum));
  if (in->dims_count < 1 || !tfl_same_shape(in, out)) return TFL_ERR_BAD_SHAPE;
  axis = (int32_t)tfl_index_at(axis_t, 0);
  TFL_ENSURE(tfl_axis_normalize(&axis, in->dims_count));
  TFL_ENSURE(tfl_option_bool(ctx, node, 0, 0, &exclusive));
  TFL_ENSURE(tfl_option_bool(ctx, node, 1, 0, &reverse));
  tfl_axis_split(in, axis, &d.before, &d.after);
  d.depth = in->dims[axis];
  d.exclusive = exclusive;
  d.reverse = reverse;
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status cumsum_eval(tfl_context *ctx, tfl_node *node) {
  const int8_t *x = tfl_input_i8(ctx, node, 0);
  int8_t *y = tfl_output_i8(ctx, node, 0);
  tfl_cumsum_data d;
  int32_t b;
  int32_t a;
  int32_t k;
  memcpy(&d, node->data, sizeof d);
  for (b = 0; b < d.before; ++b) {
    for (a = 0; a < d.after; ++a) {
      uint32_t acc = tfl_scaled_sum_start(&d.sum);
      for (k = 0; k < d.depth; ++k) {
        const int32_t pos = d.reverse ? d.depth - 1 - k : k;
        const int32_t idx = (b * d.depth + pos) * d.after + a;
        const uint32_t term = tfl_scaled_sum_term(&d.sum, x[idx]);
        if (!d.exclusive) acc += term;
        y[idx] = tfl_scaled_sum_output(&d.sum, acc);
        if (d.exclusive) acc += term;
      }
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(cumsum, 128, "CUMSUM", cumsum_prepare, cumsum_eval);
