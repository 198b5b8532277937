/* Tensor lists of control-flow operators (tfl_kernel_flow.h). */
#include "tfl_kernel_flow.h"

tfl_status tfl_flow_subgraph(const tfl_context *ctx, const tfl_node *node, int field,
                             int32_t *index) {
  TFL_ENSURE(tfl_option_i32(ctx, node, field, -1, index));
  if (*index < 0 || *index >= ctx->subgraph_count || *index == node->subgraph) {
    return TFL_ERR_MODEL_INVALID;
  }
  return TFL_OK;
}

static int32_t load_i32_le(const uint8_t *p) {
  return (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                   ((uint32_t)p[3] << 24));
}

static const tfl_subgraph *list_subgraph(const tfl_context *ctx, tfl_flow_list list) {
  if (list.arg < 0 || list.arg >= ctx->subgraph_count) return NULL;
  return &ctx->subgraphs[list.arg];
}

int32_t tfl_flow_count(const tfl_context *ctx, const tfl_node *node, tfl_flow_list list) {
  const tfl_subgraph *sg = list_subgraph(ctx, list);
  switch (list.kind) {
    case TFL_FLOW_NODE_IN:
      return list.arg >= 0 && list.arg <= node->input_count ? node->input_count - list.arg : -1;
    case TFL_FLOW_NODE_OUT:
      return node->output_count;
    case TFL_FLOW_SG_IN:
      return sg != NULL ? sg->input_count : -1;
    case TFL_FLOW_SG_OUT:
      return sg != NULL ? sg->output_count : -1;
    default:
      return -1;
  }
}

tfl_tensor *tfl_flow_at(tfl_context *ctx, const tfl_node *node, tfl_flow_list list, int32_t i) {
  if (i < 0 || i >= tfl_flow_count(ctx, node, list)) return NULL;
  if (list.kind == TFL_FLOW_NODE_IN) return tfl_node_input(ctx, node, list.arg + i);
  if (list.kind == TFL_FLOW_NODE_OUT) return tfl_node_output(ctx, node, i);
  const tfl_subgraph *sg = list_subgraph(ctx, list); /* not NULL: the count was >= 0 */
  const uint8_t *indices_le = list.kind == TFL_FLOW_SG_IN ? sg->inputs_le : sg->outputs_le;
  const int32_t local = load_i32_le(indices_le + 4 * i);
  if (local < 0 || local >= sg->tensor_count) return NULL;
  return &ctx->mem.tensors[sg->tensor_base + local];
}

tfl_status tfl_flow_match(tfl_context *ctx, const tfl_node *node, tfl_flow_list dst,
                          tfl_flow_list src) {
  const int32_t n = tfl_flow_count(ctx, node, dst);
  if (n < 0 || n != tfl_flow_count(ctx, node, src)) return TFL_ERR_MODEL_INVALID;
  for (int32_t i = 0; i < n; ++i) {
    const tfl_tensor *d = tfl_flow_at(ctx, node, dst, i);
    const tfl_tensor *s = tfl_flow_at(ctx, node, src, i);
    if (d == NULL || s == NULL || d->is_constant) return TFL_ERR_MODEL_INVALID;
    if (d->type != s->type) return TFL_ERR_UNSUPPORTED_TYPE;
    if (d->bytes != s->bytes) return TFL_ERR_BAD_SHAPE;
    if (d->bytes > 0 && (d->data == NULL || s->data == NULL)) return TFL_ERR_PLAN_MISMATCH;
  }
  return TFL_OK;
}

tfl_status tfl_flow_copy(tfl_context *ctx, const tfl_node *node, tfl_flow_list dst,
                         tfl_flow_list src) {
  const int32_t n = tfl_flow_count(ctx, node, dst);
  for (int32_t i = 0; i < n; ++i) {
    tfl_tensor *d = tfl_flow_at(ctx, node, dst, i);
    const tfl_tensor *s = tfl_flow_at(ctx, node, src, i);
    if (d == NULL || s == NULL || d->bytes != s->bytes) return TFL_ERR_MODEL_INVALID;
    /* a subgraph may pass a tensor straight through (its input is its output) */
    if (d->data != s->data && d->bytes > 0) memmove(d->data, s->data, (size_t)d->bytes);
  }
  return TFL_OK;
}

tfl_status tfl_flow_check_condition(const tfl_tensor *t) {
  if (t == NULL) return TFL_ERR_MODEL_INVALID;
  if (t->type != TFL_TYPE_BOOL) return TFL_ERR_UNSUPPORTED_TYPE;
  if (tfl_tensor_elements(t) != 1 || t->bytes != 1) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}
