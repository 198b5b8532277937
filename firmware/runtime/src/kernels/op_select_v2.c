/* SELECT_V2, bool condition and int8 or 16x8 int16 values (TFLM reference semantics).
 *
 *   out[i] = condition[i] ? x[i] : y[i]
 * with the condition, x and y broadcast NumPy-style to the output's shape (up to 5 dims, as
 * TFLM). The chosen value is copied as it is: TFLM does not requantize x or y to the output.
 * prepare selects the int16 eval (the same walk over 2-byte values) for int16 values. */
#include "tfl_kernel.h"
#include "tfl_kernel_expand.h"

/* The output's shape is exactly the broadcast of the three (TFLM checks the same). */
static int select_v2_shape_ok(const tfl_tensor *const in[3], const tfl_tensor *out) {
  int32_t rank = 0;
  int32_t d;
  int32_t k;
  for (k = 0; k < 3; ++k) {
    if (!tfl_expand_ok(in[k], out)) return 0;
    rank = tfl_max(rank, (int32_t)in[k]->dims_count);
  }
  if (rank != (int32_t)out->dims_count) return 0;
  for (d = 0; d < rank; ++d) {
    int found = out->dims[d] == 1;
    for (k = 0; k < 3 && !found; ++k) {
      const int32_t j = d - (rank - (int32_t)in[k]->dims_count);
      found = j >= 0 && in[k]->dims[j] == out->dims[d];
    }
    if (!found) return 0;
  }
  return 1;
}

static tfl_status select_v2_eval16(tfl_context *ctx, tfl_node *node);
TFL_DEFINE_KERNEL16(select_v2_int16, 123, "SELECT_V2", select_v2_prepare, select_v2_eval16);

static tfl_status select_v2_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *c = tfl_node_input(ctx, node, 0);
  const tfl_tensor *x = tfl_node_input(ctx, node, 1);
  const tfl_tensor *y = tfl_node_input(ctx, node, 2);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  if (c == NULL || x == NULL || y == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  if (c->type != TFL_TYPE_BOOL || (out->type != TFL_TYPE_INT8 && !TFL_IS_INT16(out)) ||
      x->type != out->type || y->type != out->type)
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (TFL_IS_INT16(out)) node->kernel = &select_v2_int16; /* the int16 eval from now on */
  {
    const tfl_tensor *const in[3] = {c, x, y};
    if (out->dims_count > 5 || !select_v2_shape_ok(in, out)) return TFL_ERR_BAD_SHAPE;
  }
  return TFL_OK;
}

/* The eval over int8 (wide = 0) or int16 (wide = 1) values; `wide` is a constant at each call. */
static inline tfl_status select_v2_run(tfl_context *ctx, const tfl_node *node, int wide) {
  const tfl_tensor *in[3];
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t total = tfl_tensor_elements(out);
  int32_t strides[3][TFL_MAX_DIMS];
  int32_t offsets[3] = {0, 0, 0};
  int32_t idx[TFL_MAX_DIMS];
  int32_t e;
  int32_t k;
  for (k = 0; k < 3; ++k) {
    in[k] = tfl_node_input(ctx, node, k);
    tfl_expand_strides(in[k], out, strides[k]);
  }
  memset(idx, 0, sizeof idx);
  for (e = 0; e < total; ++e) {
    const uint8_t cond = ((const uint8_t *)in[0]->data)[offsets[0]];
    if (wide) {
      ((int16_t *)out->data)[e] = cond ? ((const int16_t *)in[1]->data)[offsets[1]]
                                       : ((const int16_t *)in[2]->data)[offsets[2]];
    } else {
      ((int8_t *)out->data)[e] = cond ? ((const int8_t *)in[1]->data)[offsets[1]]
                                      : ((const int8_t *)in[2]->data)[offsets[2]];
    }
    tfl_expand_next(out, idx, 3, strides, offsets);
  }
  return TFL_OK;
}

static tfl_status select_v2_eval(tfl_context *ctx, tfl_node *node) {
  return select_v2_run(ctx, node, 0);
}
static tfl_status select_v2_eval16(tfl_context *ctx, tfl_node *node) {
  return select_v2_run(ctx, node, 1);
}

TFL_DEFINE_KERNEL(select_v2, 123, "SELECT_V2", select_v2_prepare, select_v2_eval);
