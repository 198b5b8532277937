/* WHILE: the loop-carried tensors are the operator's inputs, copied to its outputs first; then,
 * as long as subgraph cond_subgraph_index (WhileOptions field 0), given the outputs, sets its
 * first output (a one-element bool) true, subgraph body_subgraph_index (field 1) runs on the
 * outputs and its outputs replace them (TFLM's order of copies and runs). A condition that never
 * turns false runs forever, as in TFLM, unless TFL_MAX_WHILE_ITERATIONS sets a limit. data[0] = cond subgraph, data[1] = body subgraph. */
#include "tfl_kernel_flow.h"

static tfl_status while_prepare(tfl_context *ctx, tfl_node *node) {
  int32_t cond, body;
  TFL_ENSURE(tfl_flow_subgraph(ctx, node, 0, &cond));
  TFL_ENSURE(tfl_flow_subgraph(ctx, node, 1, &body));
  const tfl_flow_list ins = {TFL_FLOW_NODE_IN, 0};
  const tfl_flow_list outs = {TFL_FLOW_NODE_OUT, 0};
  const tfl_flow_list cond_in = {TFL_FLOW_SG_IN, cond};
  const tfl_flow_list body_in = {TFL_FLOW_SG_IN, body};
  const tfl_flow_list body_out = {TFL_FLOW_SG_OUT, body};
  TFL_ENSURE(tfl_flow_match(ctx, node, outs, ins));
  TFL_ENSURE(tfl_flow_match(ctx, node, cond_in, ins));
  TFL_ENSURE(tfl_flow_match(ctx, node, body_in, outs));
  TFL_ENSURE(tfl_flow_match(ctx, node, outs, body_out));
  const tfl_flow_list cond_out = {TFL_FLOW_SG_OUT, cond};
  TFL_ENSURE(tfl_flow_check_condition(tfl_flow_at(ctx, node, cond_out, 0)));
  node->data[0] = cond;
  node->data[1] = body;
  return TFL_OK;
}

static tfl_status while_eval(tfl_context *ctx, tfl_node *node) {
  const int32_t cond = node->data[0], body = node->data[1];
  const tfl_flow_list ins = {TFL_FLOW_NODE_IN, 0};
  const tfl_flow_list outs = {TFL_FLOW_NODE_OUT, 0};
  const tfl_flow_list cond_in = {TFL_FLOW_SG_IN, cond};
  const tfl_flow_list cond_out = {TFL_FLOW_SG_OUT, cond};
  const tfl_flow_list body_in = {TFL_FLOW_SG_IN, body};
  const tfl_flow_list body_out = {TFL_FLOW_SG_OUT, body};
  TFL_ENSURE(tfl_flow_copy(ctx, node, cond_in, ins));
  TFL_ENSURE(tfl_flow_copy(ctx, node, outs, ins));
  TFL_ENSURE(tfl_invoke_subgraph(ctx, cond));
  for (uint32_t runs = 0; tfl_flow_true(tfl_flow_at(ctx, node, cond_out, 0)); ++runs) {
#if TFL_MAX_WHILE_ITERATIONS > 0
    if (runs >= (uint32_t)TFL_MAX_WHILE_ITERATIONS) return TFL_ERR_BAD_ARGUMENT;
#else
    (void)runs;
#endif
    TFL_ENSURE(tfl_flow_copy(ctx, node, body_in, outs));
    TFL_ENSURE(tfl_invoke_subgraph(ctx, body));
    TFL_ENSURE(tfl_flow_copy(ctx, node, outs, body_out));
    TFL_ENSURE(tfl_flow_copy(ctx, node, cond_in, outs));
    TFL_ENSURE(tfl_invoke_subgraph(ctx, cond));
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(while_loop, 119, "WHILE", while_prepare, while_eval);
