/* IF: input 0 is a one-element bool condition; the other inputs go to the inputs of subgraph
 * then_subgraph_index (IfOptions field 0) when it is true, else_subgraph_index (field 1) when it
 * is false; the branch runs and its outputs become the operator's outputs (TFLM copies bytes
 * the same way). Prepare checks both branches against the operator, so either may run.
 * data[0] = then subgraph, data[1] = else subgraph. */
#include "tfl_kernel_flow.h"

static tfl_status if_prepare(tfl_context *ctx, tfl_node *node) {
  if (node->input_count < 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_flow_check_condition(tfl_node_input(ctx, node, 0)));
  for (int field = 0; field < 2; ++field) {
    int32_t g;
    TFL_ENSURE(tfl_flow_subgraph(ctx, node, field, &g));
    const tfl_flow_list args = {TFL_FLOW_NODE_IN, 1};
    const tfl_flow_list outs = {TFL_FLOW_NODE_OUT, 0};
    const tfl_flow_list sg_in = {TFL_FLOW_SG_IN, g};
    const tfl_flow_list sg_out = {TFL_FLOW_SG_OUT, g};
    TFL_ENSURE(tfl_flow_match(ctx, node, sg_in, args));
    TFL_ENSURE(tfl_flow_match(ctx, node, outs, sg_out));
    node->data[field] = g;
  }
  return TFL_OK;
}

static tfl_status if_eval(tfl_context *ctx, tfl_node *node) {
  const int32_t g = tfl_flow_true(tfl_node_input(ctx, node, 0)) ? node->data[0] : node->data[1];
  const tfl_flow_list args = {TFL_FLOW_NODE_IN, 1};
  const tfl_flow_list outs = {TFL_FLOW_NODE_OUT, 0};
  const tfl_flow_list sg_in = {TFL_FLOW_SG_IN, g};
  const tfl_flow_list sg_out = {TFL_FLOW_SG_OUT, g};
  TFL_ENSURE(tfl_flow_copy(ctx, node, sg_in, args));
  TFL_ENSURE(tfl_invoke_subgraph(ctx, g));
  return tfl_flow_copy(ctx, node, outs, sg_out);
}

TFL_DEFINE_KERNEL(if_else, 118, "IF", if_prepare, if_eval);
