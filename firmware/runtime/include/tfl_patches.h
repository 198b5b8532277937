/* Patch-based execution of a model's first operators (`tinyflash generate --patches`).
 *
 * The prefix is a chain of spatial operators at the start of subgraph 0 (CONV_2D,
 * DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MAX_POOL_2D; batch 1). Instead of running each operator
 * over its whole tensors, the runtime runs the whole chain once per tile: a band of rows of the
 * prefix's last output, computed from the rows of the prefix's input it depends on (the receptive
 * field, overlapping rows recomputed). The tensors between the prefix's operators hold one tile's
 * rows at a time, so the plan gives them tile-sized arena space; the prefix's input and output
 * keep their full size. Each operator runs unchanged over a window: its input and output tensors
 * are narrowed to the window's rows (data pointer moved, height set) and its padding above the
 * window set to the true padding where the window touches the image's top edge and 0 elsewhere,
 * so every output element sums exactly the same products as without patches: bit-exact.
 *
 * tfl_init checks the whole description (operators, chain, rows within each tensor's storage,
 * padding no larger than the operator's own) and fails with TFL_ERR_PLAN_MISMATCH otherwise. */
#ifndef TFL_PATCHES_H
#define TFL_PATCHES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ints per (tile, operator) window: first input row, input rows, first output row, output
 * rows, padding rows above the window. Rows of a tile tensor count from its tile buffer
 * (always 0 for the first row), rows of the prefix's input and output from the tensor's top. */
#define TFL_PATCH_WINDOW_INTS 5

typedef struct tfl_patch_plan {
  int32_t first_node; /* the prefix's first operator (an index into subgraph 0) */
  int32_t node_count; /* operators in the prefix */
  int32_t tile_count;
  const int32_t *windows; /* tile_count * node_count * TFL_PATCH_WINDOW_INTS, tile-major */
  /* (tensor index, bytes) pairs: the tensors between the prefix's operators and the arena bytes
   * the plan gives each (one tile's rows). */
  const int32_t *tile_tensors;
  int32_t tile_tensor_count;
} tfl_patch_plan;

#ifdef __cplusplus
}
#endif
#endif
