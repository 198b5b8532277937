/* The int32 forms of ADD, SUB and MUL (see the header). */
#include "tfl_kernel_arith32.h"

#include "tfl_kernel_broadcast.h"

enum { ARITH32_ADD = 0, ARITH32_SUB = 41, ARITH32_MUL = 18 };

typedef struct {
  int32_t op; /* the builtin code */
  int32_t act_min;
  int32_t act_max;
} tfl_arith32_data;
TFL_OP_DATA_FITS(tfl_arith32_data);

int tfl_arith32_node(tfl_context *ctx, const tfl_node *node) {
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  return out != NULL && out->type == TFL_TYPE_INT32;
}

tfl_status tfl_arith32_prepare(tfl_context *ctx, tfl_node *node, const tfl_kernel *variant) {
  tfl_arith32_data d;
  int8_t activation = TFL_ACT_NONE;
  /* both inputs and the output present and int32, shapes that broadcast */
  TFL_ENSURE(tfl_broadcast_prepare_minmax(ctx, node));
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_ACT_NONE, &activation)); /* fused activation */
  d.op = variant->builtin_code;
  d.act_min = INT32_MIN;
  d.act_max = INT32_MAX;
  if (d.op != ARITH32_ADD) {
    if (activation == TFL_ACT_RELU || activation == TFL_ACT_RELU6) d.act_min = 0;
    if (activation == TFL_ACT_RELU6) d.act_max = 6;
    if (activation == TFL_ACT_RELU_N1_TO_1) {
      d.act_min = -1;
      d.act_max = 1;
    }
  }
  TFL_ENSURE(tfl_node_set_data(node, &d, sizeof d));
  node->kernel = variant; /* the int32 eval from now on */
  return TFL_OK;
}

/* One broadcast row (tfl_broadcast_run_sized over 4-byte elements). */
static void arith32_row(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                        int32_t step2, int8_t *out, int32_t n) {
  const tfl_arith32_data *d = (const tfl_arith32_data *)params;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const uint32_t a = (uint32_t)tfl_broadcast_i32(in1, i, step1);
    const uint32_t b = (uint32_t)tfl_broadcast_i32(in2, i, step2);
    const uint32_t raw = d->op == ARITH32_ADD ? a + b : (d->op == ARITH32_SUB ? a - b : a * b);
    const int32_t r = tfl_clamp((int32_t)raw, d->act_min, d->act_max); /* two's complement */
    memcpy(out + (size_t)i * 4, &r, 4);
  }
}

tfl_status tfl_arith32_eval(tfl_context *ctx, tfl_node *node) {
  tfl_arith32_data d; /* a local copy: stores through the output may alias node */
  memcpy(&d, node->data, sizeof d);
  tfl_broadcast_run_sized(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1),
                          tfl_node_output(ctx, node, 0), arith32_row, &d, 4, 4);
  return TFL_OK;
}
