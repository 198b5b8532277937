/* The int32 forms of ADD, SUB and MUL (TFLM runs them on shape arithmetic and index tensors):
 * the stored values themselves, no quantization. The result wraps as TFLM's int32 arithmetic
 * does on the machines it runs on (computed in uint32_t here: no signed overflow) and is
 * clamped to the fused activation's int32 range: RELU [0, INT32_MAX], RELU6 [0, 6],
 * RELU_N1_TO_1 [-1, 1], any other none (TFLM's CalculateActivationRange<int32_t>). TFLM's int32
 * ADD ignores the activation, and so does this one. Inputs broadcast NumPy-style up to
 * TFL_MAX_DIMS. Each op's prepare calls tfl_arith32_prepare when its output is int32, which
 * selects the op's int32 kernel object (eval tfl_arith32_eval) for the node. */
#ifndef TFL_KERNEL_ARITH32_H
#define TFL_KERNEL_ARITH32_H

#include "tfl_kernel.h"

/* 1 when the node's output 0 exists and is int32: the op's int32 form. */
int tfl_arith32_node(tfl_context *ctx, const tfl_node *node);

/* The prepare of the int32 form: both inputs and the output int32 with shapes that broadcast,
 * the fused activation's range (option 0) in node->data; then node->kernel = variant, the op's
 * int32 kernel object (its builtin code says which op: ADD, SUB or MUL). */
TFL_MUST_CHECK tfl_status tfl_arith32_prepare(tfl_context *ctx, tfl_node *node,
                                              const tfl_kernel *variant);

/* The eval of the int32 forms (the kernel object's eval). */
TFL_MUST_CHECK tfl_status tfl_arith32_eval(tfl_context *ctx, tfl_node *node);

#endif
