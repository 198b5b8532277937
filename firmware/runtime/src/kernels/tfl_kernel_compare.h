/* EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL on int8 or int32 inputs, bool
 * output; GREATER also on int16 (16x8) inputs. */
#ifndef TFL_KERNEL_COMPARE_H
#define TFL_KERNEL_COMPARE_H

#include "tfl_kernel.h"

typedef enum {
  TFL_CMP_EQUAL,
  TFL_CMP_NOT_EQUAL,
  TFL_CMP_GREATER,
  TFL_CMP_GREATER_EQUAL,
  TFL_CMP_LESS,
  TFL_CMP_LESS_EQUAL
} tfl_compare_kind;

/* Two int8 inputs (scales in (0, 1), as TFLM requires) or two int32 inputs that broadcast to
 * the bool output. */
TFL_MUST_CHECK tfl_status tfl_compare_prepare(tfl_context *ctx, tfl_node *node,
                                              tfl_compare_kind kind);
TFL_MUST_CHECK tfl_status tfl_compare_eval(tfl_context *ctx, tfl_node *node);

/* Two int16 inputs that broadcast to the bool output, with one scale and zero point (or neither
 * quantized): TFL_ERR_BAD_QUANTIZATION for any other quantization (see tfl_kernel_compare.c). */
TFL_MUST_CHECK tfl_status tfl_compare_prepare16(tfl_context *ctx, tfl_node *node,
                                                tfl_compare_kind kind);
/* The eval of the int16 inputs: their stored values compared. */
TFL_MUST_CHECK tfl_status tfl_compare_eval16(tfl_context *ctx, tfl_node *node);

#endif
