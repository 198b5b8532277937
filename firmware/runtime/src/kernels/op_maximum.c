/* MAXIMUM, int8 (TFLM reference semantics).
 *
 * The larger of the two raw int8 values, element by element, with no requantization: TFLite's
 * converter gives both inputs and the output one scale and zero point, and TFLM compares the
 * stored values as they are. Inputs broadcast NumPy-style up to TFL_MAX_DIMS. */
#include "tfl_kernel.h"
#include "tfl_kernel_broadcast.h"

/* ---- arithmetic ----------------------------------------------------------------------- */

static void maximum_row(const void *params, const int8_t *in1, int32_t step1,
                        const int8_t *in2, int32_t step2, int8_t *out, int32_t n) {
  int32_t i;
  int32_t o1 = 0;
  int32_t o2 = 0;
  (void)params;
  for (i = 0; i < n; ++i) {
    const int8_t x1 = in1[o1];
    const int8_t x2 = in2[o2];
    out[i] = x1 > x2 ? x1 : x2;
    o1 += step1;
    o2 += step2;
  }
}

static tfl_status maximum_prepare(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_prepare_int8(ctx, node);
}

static tfl_status maximum_eval(tfl_context *ctx, tfl_node *node) {
  tfl_broadcast_run(tfl_node_input(ctx, node, 0), tfl_node_input(ctx, node, 1),
                    tfl_node_output(ctx, node, 0), maximum_row, NULL);
  return TFL_OK;
}

TFL_DEFINE_KERNEL(maximum, 55, "MAXIMUM", maximum_prepare, maximum_eval);
