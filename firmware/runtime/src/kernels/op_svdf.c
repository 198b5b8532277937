/* SVDF, int8 input and output, int8 feature weights, int16 time weights and int16 activation
 * state (TFLite's int8 op set). Inputs: 0 x [batch, in]; 1 feature weights [filters, in];
 * 2 time weights [filters, memory]; 3 bias [units] int32 (optional); 4 state
 * [batch, filters * memory], a variable tensor kept between invokes and zeroed by tfl_init and
 * tfl_reset_variables. Option rank: filters = units * rank. Output [batch, units].
 *
 * Each invoke, per batch row (TFLM's integer arithmetic):
 *   1. every filter's memory shifts one step to the past (the oldest value drops out);
 *   2. its newest value = zp_s + clamp16(rq(sum_k W_f[f][k] (x[k] - zp_x), s_x w_f / s_s));
 *   3. out[u] = clamp8(zp_y + rq(bias[u] + sum over the unit's rank filters f of
 *      sum_m W_t[f][m] (s[f][m] - zp_s), s_s w_t / s_y)).
 * The fused activation is not applied to the integer output, as in TFLM. Sums wrap modulo 2^32.
 * The scales are multiplied in float, as TFLM does, then turned into Q31 multipliers. */
#include "tfl_kernel.h"
#include "tfl_mac.h"

enum { SV_X = 0, SV_WF = 1, SV_WT = 2, SV_BIAS = 3, SV_STATE = 4 };

typedef struct {
  int32_t mult1, shift1; /* feature dot product -> state */
  int32_t mult2, shift2; /* time dot product -> output */
  int32_t input_offset;
  int32_t output_zp;
  int32_t batches, n_input, n_filter, n_memory, rank, n_unit;
} svdf_data;
TFL_OP_DATA_FITS(svdf_data);

static tfl_status svdf_prepare(tfl_context *ctx, tfl_node *node) {
  svdf_data *d = (svdf_data *)node->data;
  if (node->input_count != 5 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  const tfl_tensor *x = tfl_node_input(ctx, node, SV_X);
  const tfl_tensor *wf = tfl_node_input(ctx, node, SV_WF);
  const tfl_tensor *wt = tfl_node_input(ctx, node, SV_WT);
  const tfl_tensor *bias = tfl_node_input(ctx, node, SV_BIAS);
  const tfl_tensor *st = tfl_node_input(ctx, node, SV_STATE);
  const tfl_tensor *y = tfl_node_output(ctx, node, 0);
  if (x == NULL || wf == NULL || wt == NULL || st == NULL || y == NULL) {
    return TFL_ERR_MODEL_INVALID;
  }
  if (x->type != TFL_TYPE_INT8 || wf->type != TFL_TYPE_INT8 || y->type != TFL_TYPE_INT8 ||
      wt->type != TFL_TYPE_INT16 || st->type != TFL_TYPE_INT16) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  if (bias != NULL && bias->type != TFL_TYPE_INT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!st->is_variable) return TFL_ERR_MODEL_INVALID;
  if (!wf->is_constant || !wt->is_constant || (bias != NULL && !bias->is_constant)) {
    return TFL_ERR_UNSUPPORTED_OPTION;
  }
  int32_t rank;
  TFL_ENSURE(tfl_option_i32(ctx, node, 0, 0, &rank));
  if (x->dims_count != 2 || wf->dims_count != 2 || wt->dims_count != 2 || st->dims_count != 2 ||
      y->dims_count != 2) {
    return TFL_ERR_BAD_SHAPE;
  }
  const int32_t batches = x->dims[0], n_input = x->dims[1];
  const int32_t n_filter = wf->dims[0], n_memory = wt->dims[1];
  if (batches <= 0 || n_input <= 0 || n_filter <= 0 || n_memory <= 0) return TFL_ERR_BAD_SHAPE;
  if (rank <= 0 || n_filter % rank != 0) return TFL_ERR_BAD_SHAPE;
  const int32_t n_unit = n_filter / rank;
  if (wf->dims[1] != n_input || wt->dims[0] != n_filter) return TFL_ERR_BAD_SHAPE;
  if (n_memory > INT32_MAX / n_filter || st->dims[0] != batches ||
      st->dims[1] != n_memory * n_filter) {
    return TFL_ERR_BAD_SHAPE;
  }
  if (y->dims[0] != batches || y->dims[1] != n_unit) return TFL_ERR_BAD_SHAPE;
  if (bias != NULL && tfl_tensor_elements(bias) != n_unit) return TFL_ERR_BAD_SHAPE;
  if (x->quant_count != 1 || wf->quant_count != 1 || wt->quant_count != 1 || st->quant_count != 1 ||
      y->quant_count != 1) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  if (!(x->scale > 0.0f) || !(wf->scale > 0.0f) || !(wt->scale > 0.0f) || !(st->scale > 0.0f) ||
      !(y->scale > 0.0f)) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  /* symmetric weights and state (the int16 state's zero point would overflow its storage) */
  if (wf->zero_point != 0 || wt->zero_point != 0 || st->zero_point != 0) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  const float time_scale = st->scale * wt->scale;
  if (bias != NULL) {
    /* TFLM requires the bias scale to be the state scale times the time weights' scale */
    const double diff = (double)bias->scale - (double)time_scale;
    if (bias->quant_count != 1 || !(diff < 1e-5 && diff > -1e-5)) return TFL_ERR_BAD_QUANTIZATION;
  }
  const float scale1 = x->scale * wf->scale / st->scale;
  const float scale2 = time_scale / y->scale;
  *d = (svdf_data){.input_offset = -x->zero_point,
                   .output_zp = y->zero_point,
                   .batches = batches,
                   .n_input = n_input,
                   .n_filter = n_filter,
                   .n_memory = n_memory,
                   .rank = rank,
                   .n_unit = n_unit};
  tfl_quantize_multiplier((double)scale1, &d->mult1, &d->shift1);
  tfl_quantize_multiplier((double)scale2, &d->mult2, &d->shift2);
  return TFL_OK;
}

static tfl_status svdf_eval(tfl_context *ctx, tfl_node *node) {
  const svdf_data *d = (const svdf_data *)node->data;
  const tfl_tensor *bias_t = tfl_node_input(ctx, node, SV_BIAS);
  const int8_t *x = (const int8_t *)tfl_node_input(ctx, node, SV_X)->data;
  const int8_t *wf = (const int8_t *)tfl_node_input(ctx, node, SV_WF)->data;
  const int16_t *wt = (const int16_t *)tfl_node_input(ctx, node, SV_WT)->data;
  const int32_t *bias = bias_t != NULL ? (const int32_t *)bias_t->data : NULL;
  int16_t *state = (int16_t *)tfl_node_input(ctx, node, SV_STATE)->data;
  int8_t *y = (int8_t *)tfl_node_output(ctx, node, 0)->data;
  const int32_t n_memory = d->n_memory, n_filter = d->n_filter;
  for (int32_t b = 0; b < d->batches; ++b) {
    int16_t *sb = state + b * n_filter * n_memory;
    const int8_t *xb = x + b * d->n_input;
    /* 1. one step older: every row moves left; the last column is rewritten below */
    memmove(sb, sb + 1, ((size_t)n_filter * (size_t)n_memory - 1u) * sizeof *sb);
    /* 2. the newest column */
    for (int32_t f = 0; f < n_filter; ++f) {
      const uint32_t acc = tfl_dot1(xb, wf + f * d->n_input, d->n_input, d->input_offset, 0);
      const int32_t v = tfl_mac_requantize((int32_t)acc, d->mult1, d->shift1);
      sb[f * n_memory + n_memory - 1] = (int16_t)tfl_clamp(v, -32768, 32767);
    }
    /* 3. each unit: its rank filters' memories against the time weights */
    for (int32_t u = 0; u < d->n_unit; ++u) {
      uint32_t acc = bias != NULL ? (uint32_t)bias[u] : 0u;
      for (int32_t f = u * d->rank; f < (u + 1) * d->rank; ++f) {
        const int16_t *w = wt + f * n_memory;
        const int16_t *m = sb + f * n_memory;
        for (int32_t k = 0; k < n_memory; ++k) acc += (uint32_t)((int32_t)w[k] * m[k]);
      }
      const int32_t v = tfl_mac_requantize((int32_t)acc, d->mult2, d->shift2) + d->output_zp;
      y[b * d->n_unit + u] = (int8_t)tfl_clamp(v, -128, 127);
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(svdf, 27, "SVDF", svdf_prepare, svdf_eval);
