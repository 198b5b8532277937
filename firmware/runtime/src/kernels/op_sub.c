/* SUB, int8, 16x8 int16 and int32 (TFLite quantization spec, TFLM reference arithmetic; the
 * int32 form, on unquantized values, is tfl_kernel_arith32.h's, selected by its prepare).
 *
 * As ADD: both inputs are offset by their zero points, shifted left by 20 bits and brought to
 * the scale 2 * max(scale_1, scale_2) with multipliers below one; input 2 is subtracted from
 * input 1 and the difference rescaled to the output, offset and clamped to the fused
 * activation's range. Inputs broadcast NumPy-style up to TFL_MAX_DIMS. int16 (zero points 0)
 * takes the same steps with a left shift of 15, as in TFLM (eval in tfl_kernel_broadcast.c). */
#include "tfl_kernel.h"
#include "tfl_kernel_broadcast.h"

typedef tfl_addsub_params tfl_sub_data;
TFL_OP_DATA_FITS(tfl_sub_data);

/* One broadcast row (tfl_broadcast_run). */
static void sub_row(const void *params, const int8_t *in1, int32_t step1, const int8_t *in2,
                    int32_t step2, int8_t *out, int32_t n) {
  tfl_addsub_row((const tfl_sub_data *)params, in1, step1, in2, step2, out, n, 1, 0);
}

static tfl_status sub_eval(tfl_context *ctx, tfl_node *node) {
  return tfl_broadcast_eval(ctx, node, sub_row);
}

TFL_DEFINE_KERNEL(sub, 41, "SUB", tfl_sub_prepare, sub_eval);
