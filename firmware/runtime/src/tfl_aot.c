/* tfl_aot_check (tfl_aot.h): after the generic prepare, the checks that let an ahead-of-time
 * layer's eval trust its constants. Linked only by projects generated with --aot. */
#include "tfl_aot.h"

/* 1 when t has rank 4 and dims {a, b, c, d}. */
static int dims4(const tfl_tensor *t, int32_t a, int32_t b, int32_t c, int32_t d) {
  return t->dims_count == 4 && t->dims[0] == a && t->dims[1] == b && t->dims[2] == c &&
         t->dims[3] == d;
}

/* The node's tensors are the layer's, with its shapes. */
static int tensors_match(tfl_context *ctx, const tfl_node *node, const tfl_aot_layer *L) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0), *w = tfl_node_input(ctx, node, 1);
  const tfl_tensor *bias = tfl_node_input(ctx, node, 2), *out = tfl_node_output(ctx, node, 0);
  const tfl_tensor *all = ctx->mem.tensors;
  if (in != all + L->in || w != all + L->w || out != all + L->out) return 0;
  if (in->data == out->data) return 0; /* planned in place: the generic kernel's in-place eval */
  if (L->bias >= 0 ? bias != all + L->bias : bias != NULL) return 0;
  if (in->type != TFL_TYPE_INT8 || out->type != TFL_TYPE_INT8 || w->type != TFL_TYPE_INT8) return 0;
  if (in->zero_point != -L->in_off || out->zero_point != L->out_off) return 0;
  if ((w->quant_count > 1) != (L->per_channel != 0) ||
      (L->per_channel && w->quant_count != L->oc)) {
    return 0;
  }
  if (w->quant_count == 1 && w->zero_point != 0) return 0;
  switch (L->kind) {
    case TFL_AOT_FC:
      return w->dims_count == 2 && w->dims[0] == L->oc && w->dims[1] == L->ic &&
             tfl_tensor_elements(in) == L->batches * L->ic &&
             tfl_tensor_elements(out) == L->batches * L->oc;
    case TFL_AOT_POINTWISE:
      return dims4(in, L->batches, L->ih, L->iw, L->ic) && dims4(w, L->oc, 1, 1, L->ic) &&
             dims4(out, L->batches, L->ih, L->iw, L->oc);
#if TFL_MAC_DSP /* the im2col body exists with the DSP kernels only */
    case TFL_AOT_CONV:
      return L->batches == 1 && L->scratch >= 0 && L->oc >= 4 &&
             L->kh * L->kw * L->ic <= TFL_MAC_PATCH_BYTES - 3 &&
             dims4(in, 1, L->ih, L->iw, L->ic) && dims4(w, L->oc, L->kh, L->kw, L->ic) &&
             dims4(out, 1, L->oh, L->ow, L->oc);
#endif
    case TFL_AOT_DEPTHWISE:
      return L->batches == 1 && L->ic == L->oc && (L->oc & 3) == 0 &&
             dims4(in, 1, L->ih, L->iw, L->ic) && dims4(w, 1, L->kh, L->kw, L->oc) &&
             dims4(out, 1, L->oh, L->ow, L->oc);
    default:
      return 0;
  }
}

/* The window geometry the generic prepare computed (tfl_conv_params leads the op data of
 * CONV_2D and DEPTHWISE_CONV_2D) is the layer's. */
static int geometry_matches(const tfl_node *node, const tfl_aot_layer *L) {
  if (L->kind == TFL_AOT_FC) return 1;
  const tfl_conv_params *p = (const tfl_conv_params *)(const void *)node->data;
  return p->stride_h == L->stride_h && p->stride_w == L->stride_w && p->pad_h == L->pad_h &&
         p->pad_w == L->pad_w && p->dilation_h == 1 && p->dilation_w == 1 &&
         p->pool_index == L->pool_index;
}

tfl_status tfl_aot_check(tfl_context *ctx, const tfl_node *node, const tfl_kernel *self,
                         int32_t pool_before, const tfl_aot_layer *L) {
  /* the generic prepare chose another kernel (a 16x8 one): the layer does not apply */
  if (node->kernel != self) return TFL_ERR_PLAN_MISMATCH;
  if (!tensors_match(ctx, node, L) || !geometry_matches(node, L) || pool_before != L->pool_index) {
    return TFL_ERR_PLAN_MISMATCH;
  }
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t lo, hi;
  TFL_ENSURE(tfl_activation_range(L->act, out->scale, out->zero_point, -128, 127, &lo, &hi));
  if (lo != L->act_min || hi != L->act_max) return TFL_ERR_PLAN_MISMATCH;
  if (L->rshift) { /* the shifts the prepare computed are all right shifts of 1..31 bits */
    const int32_t scales = L->per_channel ? L->oc : 1;
    const int32_t *shift = ctx->mem.pool + L->pool_index + scales;
    for (int32_t c = 0; c < scales; ++c) {
      if (shift[c] > -1 || shift[c] < -31) return TFL_ERR_PLAN_MISMATCH;
    }
  }
  /* the scratch the eval uses is the plan's entry for this operator */
  const int32_t entry = ctx->tensor_count + (int32_t)(node - ctx->mem.nodes);
  const int32_t planned =
      ctx->mem.offsets != NULL && entry < ctx->mem.offsets_count ? ctx->mem.offsets[entry] : -1;
  if (planned != L->scratch) return TFL_ERR_PLAN_MISMATCH;
  return TFL_OK;
}
