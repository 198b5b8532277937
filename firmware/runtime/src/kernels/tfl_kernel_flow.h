/* Moving tensors between an operator and the subgraphs it runs (IF, WHILE): the operator's
 * inputs or outputs and a subgraph's inputs or outputs are lists of tensors; a copy from one list
 * to another moves each tensor's bytes to the tensor at the same position. Prepare checks every
 * pair (tfl_flow_match), so eval's tfl_flow_copy only moves bytes. */
#ifndef TFL_KERNEL_FLOW_H
#define TFL_KERNEL_FLOW_H

#include "tfl_kernel.h"

/* Which list: the node's inputs from `arg` on, the node's outputs, subgraph `arg`'s inputs or
 * outputs. */
enum { TFL_FLOW_NODE_IN = 0, TFL_FLOW_NODE_OUT = 1, TFL_FLOW_SG_IN = 2, TFL_FLOW_SG_OUT = 3 };
typedef struct tfl_flow_list {
  int32_t kind;
  int32_t arg;
} tfl_flow_list;

/* The subgraph-index option `field` of node: another subgraph of the model (running its own
 * would recurse), else TFL_ERR_MODEL_INVALID. */
TFL_MUST_CHECK tfl_status tfl_flow_subgraph(const tfl_context *ctx, const tfl_node *node, int field,
                                            int32_t *index);
/* Number of tensors in `list` (-1 when a subgraph index is out of range). */
int32_t tfl_flow_count(const tfl_context *ctx, const tfl_node *node, tfl_flow_list list);
/* Tensor i of `list`; NULL when absent or out of range. */
tfl_tensor *tfl_flow_at(tfl_context *ctx, const tfl_node *node, tfl_flow_list list, int32_t i);
/* Prepare: `dst` and `src` have the same count (TFL_ERR_MODEL_INVALID), every tensor is present
 * (TFL_ERR_MODEL_INVALID), every pair the same type (TFL_ERR_UNSUPPORTED_TYPE) and byte count
 * (TFL_ERR_BAD_SHAPE), and no dst tensor is a constant (TFL_ERR_MODEL_INVALID). */
TFL_MUST_CHECK tfl_status tfl_flow_match(tfl_context *ctx, const tfl_node *node, tfl_flow_list dst,
                                         tfl_flow_list src);
/* Eval: copies every tensor of `src` into its `dst` partner (a pair checked by tfl_flow_match). */
TFL_MUST_CHECK tfl_status tfl_flow_copy(tfl_context *ctx, const tfl_node *node, tfl_flow_list dst,
                                        tfl_flow_list src);
/* Eval: the value of a one-element bool tensor (prepare checked it), 0 when absent. */
static inline int tfl_flow_true(const tfl_tensor *t) {
  return t != NULL && t->data != NULL && t->bytes >= 1 && ((const uint8_t *)t->data)[0] != 0;
}
/* Prepare: t is present, bool, with one element (TFLM's condition), else TFL_ERR_MODEL_INVALID /
 * TFL_ERR_UNSUPPORTED_TYPE / TFL_ERR_BAD_SHAPE. */
TFL_MUST_CHECK tfl_status tfl_flow_check_condition(const tfl_tensor *t);

#endif
