/* The prologue shared by the kernels' prepares (tensors present, types accepted) and the
 * axis arithmetic of the data-movement kernels. */
#include "tfl_kernel.h"

/* 1 when `type` is in the set `types` (any byte: no shift past the word). */
static int type_in(unsigned types, uint8_t type) { return type < 32u && ((types >> type) & 1u); }

tfl_status tfl_prepare_tensors(tfl_context *ctx, const tfl_node *node, unsigned out_types,
                               unsigned param_types, const tfl_tensor **in,
                               const tfl_tensor **param, const tfl_tensor **out) {
  *in = tfl_node_input(ctx, node, 0);
  *out = tfl_node_output(ctx, node, 0);
  if (param != NULL) *param = tfl_node_input(ctx, node, 1);
  if (*in == NULL || *out == NULL || (param != NULL && *param == NULL))
    return TFL_ERR_MODEL_INVALID;
  if (((*in)->type != TFL_TYPE_INT8 &&
       !((*in)->type == TFL_TYPE_INT16 && type_in(out_types, TFL_TYPE_INT16))) ||
      !type_in(out_types, (*out)->type))
    return TFL_ERR_UNSUPPORTED_TYPE;
  if (param != NULL && !type_in(param_types, (*param)->type)) return TFL_ERR_UNSUPPORTED_TYPE;
  return TFL_OK;
}

tfl_status tfl_prepare_copy_tensors(tfl_context *ctx, const tfl_node *node, unsigned param_types,
                                    const tfl_tensor **in, const tfl_tensor **param,
                                    const tfl_tensor **out) {
  *in = tfl_node_input(ctx, node, 0);
  *out = tfl_node_output(ctx, node, 0);
  *param = tfl_node_input(ctx, node, 1);
  if (*in == NULL || *out == NULL || *param == NULL) return TFL_ERR_MODEL_INVALID;
  if (tfl_copy_bytes_int32((*in)->type) == 0 ||
      ((*in)->type == TFL_TYPE_INT16 && !TFL_WITH_INT16) || (*out)->type != (*in)->type ||
      !type_in(param_types, (*param)->type))
    return TFL_ERR_UNSUPPORTED_TYPE;
  return TFL_OK;
}

tfl_status tfl_prepare_cast_tensors(tfl_context *ctx, const tfl_node *node, const tfl_tensor **in,
                                    const tfl_tensor **out) {
  *in = tfl_node_input(ctx, node, 0);
  *out = tfl_node_output(ctx, node, 0);
  if (*in == NULL || *out == NULL) return TFL_ERR_MODEL_INVALID;
  if (tfl_tensor_elements(*in) != tfl_tensor_elements(*out)) return TFL_ERR_BAD_SHAPE;
  return TFL_OK;
}

void tfl_axis_split(const tfl_tensor *t, int32_t axis, int32_t *outer, int32_t *inner) {
  int32_t k;
  *outer = 1;
  *inner = 1;
  for (k = 0; k < axis; ++k) *outer *= t->dims[k];
  for (k = axis + 1; k < (int32_t)t->dims_count; ++k) *inner *= t->dims[k];
}

tfl_status tfl_axis_normalize(int32_t *axis, int32_t rank) {
  if (*axis < -rank || *axis >= rank) return TFL_ERR_BAD_ARGUMENT;
  if (*axis < 0) *axis += rank;
  return TFL_OK;
}
