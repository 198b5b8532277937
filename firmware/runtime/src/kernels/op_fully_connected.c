/* FULLY_CONNECTED, int8: out[b][n] = clamp(zp_out + requant(sum_k (x[b][k] - zp_in) *
 * (w[n][k] - zp_w) + bias[n])). Weights [N, K] per-tensor or per-channel (axis 0); bias int32
 * optional; keep_num_dims only changes the output shape, which comes from the output tensor.
 * Multiplier per unit: (double)input_scale * (double)weight_scale / (double)output_scale, the
 * same for per-tensor and per-channel weights (a float32 product of the two scales would differ
 * from TFLM near rounding boundaries: test_fc_multiplier_uses_double_product). Pool: 2 words
 * per weight scale (1 or N multipliers, then as many shifts; per-tensor weights read index 0
 * for every unit). */
#include "tfl_kernel.h"
#include "tfl_kernel_conv.h"
#include "tfl_kernel_int16.h"
#include "tfl_kernel_mac16.h"
#include "tfl_kernel_mve.h"
#include "tfl_kernel_wz.h"
#include "tfl_mac.h"

/* Accumulators wrap (two's complement, uint32_t in tfl_mac.h) instead of overflowing: identical
 * results for every sane model, defined behaviour for hostile ones (e.g. a bias of INT32_MIN). */

typedef struct {
  int32_t input_offset;
  int32_t filter_offset;
  int32_t output_offset;
  int32_t act_min;
  int32_t act_max;
  int32_t pool_index;
  int32_t units; /* N */
  int32_t depth; /* K */
  int32_t batches;
  int32_t scratch;  /* arena offset of the DSP path's expanded row (tfl_scratch), -1 for none */
  int32_t wide_acc; /* 16x8: 1 accumulates in int64 (int64 bias or none), 0 in int32 */
} fc_data;
TFL_OP_DATA_FITS(fc_data);

static tfl_status fc_eval_int16(tfl_context *ctx, tfl_node *node);
TFL_DEFINE_KERNEL16(fc_int16, 9, "FULLY_CONNECTED", fc_prepare, fc_eval_int16);
/* Compressed weights (tfl_kernel_wz.h): selected by prepare, rows decoded onto the stack. */
static tfl_status fc_eval_wz(tfl_context *ctx, tfl_node *node);
static void fc_decode_chunks(tfl_context *ctx, tfl_node *node);
static void fc_eval_sparse(tfl_context *ctx, tfl_node *node, const tfl_wz_sparse *view);
static const tfl_kernel fc_wz = {9, "FULLY_CONNECTED", fc_prepare, TFL_EVAL_WZ(fc_eval_wz), NULL};

static tfl_status fc_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *w, *bias, *out;
  fc_data *d = (fc_data *)node->data;
  /* int8 x int8, or 16x8: int16 activations (zero point 0) x int8 weights, int64/int32 bias */
  TFL_ENSURE(tfl_weight_op_tensors(ctx, node, &in, &w, &bias, &out));
  const int wide = TFL_IS_INT16(in);
  if (w->dims_count != 2) return TFL_ERR_BAD_SHAPE;
  const int32_t units = w->dims[0], depth = w->dims[1];
  if (units <= 0 || depth <= 0) return TFL_ERR_BAD_SHAPE;
  const int32_t in_elements = tfl_tensor_elements(in);
  if (in_elements % depth != 0) return TFL_ERR_BAD_SHAPE;
  const int32_t batches = in_elements / depth;
  if (batches > INT32_MAX / units || tfl_tensor_elements(out) != batches * units) {
    return TFL_ERR_BAD_SHAPE;
  }
  if (bias != NULL && tfl_tensor_elements(bias) != units) return TFL_ERR_BAD_SHAPE;
  if (in->quant_count != 1 || out->quant_count != 1) return TFL_ERR_BAD_QUANTIZATION;
  if (w->quant_count != 1 && !(w->quant_count == units && w->quant_dim == 0)) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  if (!(in->scale > 0.0f) || !(out->scale > 0.0f)) return TFL_ERR_BAD_QUANTIZATION;
  if (w->quant_count > 1) {
    for (int32_t c = 0; c < units; ++c) {
      if (tfl_tensor_channel_zero_point(w, c) != 0) return TFL_ERR_BAD_QUANTIZATION;
    }
  }
  if (wide && (in->zero_point != 0 || out->zero_point != 0)) return TFL_ERR_BAD_QUANTIZATION;
  int8_t act;
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_ACT_NONE, &act));
  TFL_ENSURE(tfl_activation_range(act, out->scale, out->zero_point, wide ? -32768 : -128,
                                  wide ? 32767 : 127, &d->act_min, &d->act_max));
  /* 1 (per-tensor) or N (per-channel) scales, checked above */
  TFL_ENSURE(tfl_conv_multipliers(ctx, in, w, out, &d->pool_index));
  d->input_offset = -in->zero_point;
  d->filter_offset = w->quant_count == 1 ? -w->zero_point : 0;
  d->output_offset = out->zero_point;
  d->units = units;
  d->depth = depth;
  d->batches = batches;
  d->scratch = -1;
  if (w->is_constant == TFL_CONSTANT_COMPRESSED) {
    /* int8 only; one blob row per unit, and one row fits the stack buffer */
    if (wide) return TFL_ERR_UNSUPPORTED_TYPE;
    if (!TFL_WITH_WZ || tfl_wz_rows(w) != units || depth > TFL_WZ_STACK_BYTES)
      return TFL_ERR_BAD_BUFFER;
    node->kernel = &fc_wz;
  }
  if (wide) {
    /* TFLM accumulates in int32 only with an int32 bias (or, without bias, when the options'
     * quantized_bias_type, field 4, says INT32 = 2) */
    int8_t bias_type;
    TFL_ENSURE(tfl_option_i8(ctx, node, 4, 0, &bias_type));
    d->wide_acc = bias != NULL ? bias->type == TFL_TYPE_INT64 : bias_type != TFL_TYPE_INT32;
    if (!tfl_int16_multipliers_ok(ctx->mem.pool + d->pool_index, w->quant_count)) {
      return TFL_ERR_BAD_QUANTIZATION;
    }
    node->kernel = &fc_int16;
    return TFL_OK;
  }
#if TFL_MAC_DSP
  /* The DSP path expands each input row once into arena scratch (plan.py's fc_scratch_bytes
   * computes the same number): two words per 4-block of the row. */
  if (d->filter_offset == 0 && depth <= TFL_MAC_PATCH_BYTES && depth >= 4) {
    TFL_ENSURE(tfl_scratch_request(ctx, node, 2 * (depth & ~3), &d->scratch));
  }
#endif
  return TFL_OK;
}

/* One input row against `units` weight rows (wt; bias, multipliers and outputs already offset
 * to the first of them, qmask as in tfl_mac_out). patch: the row expanded (DSP; NULL for none). */
static void fc_units(const fc_data *d, const int8_t *row, const int8_t *wt, int32_t units,
                     const int32_t *b, const int32_t *mult, const int32_t *shift, int32_t qmask,
                     int8_t *yrow, const uint32_t *patch) {
  /* Locals: int8 output stores may alias node->data, which would force reloads. */
  const int32_t out_off = d->output_offset, act_lo = d->act_min, act_hi = d->act_max;
  const int32_t depth = d->depth;
  int32_t n = 0;
  if (d->filter_offset == 0) {
#if TFL_MAC_DSP
    if (patch != NULL) {
      const int32_t in_off = d->input_offset;
      for (; n + 4 <= units; n += 4) {
        uint32_t acc[4]; /* set by tfl_dot4_patch */
        tfl_dot4_expanded(patch, row, wt + n * depth, depth, depth, in_off, acc);
        for (int32_t j = 0; j < 4; ++j) {
          const int32_t q = (n + j) & qmask;
          yrow[n + j] =
              tfl_mac_output(acc[j], b, n + j, mult[q], shift[q], out_off, act_lo, act_hi);
        }
      }
    }
#else
    (void)patch;
#endif
    /* Four units per pass share each loaded activation (tfl_mac.h). */
    for (; n + 4 <= units; n += 4) {
      uint32_t acc[4] = {0, 0, 0, 0};
      tfl_dot4(row, wt + n * depth, depth, depth, d->input_offset, acc);
      for (int32_t j = 0; j < 4; ++j) {
        const int32_t q = (n + j) & qmask;
        yrow[n + j] = tfl_mac_output(acc[j], b, n + j, mult[q], shift[q], out_off, act_lo, act_hi);
      }
    }
    for (; n < units; ++n) {
      const uint32_t acc = tfl_dot1(row, wt + n * depth, depth, d->input_offset, 0);
      yrow[n] =
          tfl_mac_output(acc, b, n, mult[n & qmask], shift[n & qmask], out_off, act_lo, act_hi);
    }
  }
  for (; n < units; ++n) { /* per-tensor weights with a non-zero zero point */
    const int8_t *wr = wt + n * depth;
    uint32_t acc = 0;
    for (int32_t k = 0; k < depth; ++k) {
      acc += (uint32_t)((row[k] + d->input_offset) * (wr[k] + d->filter_offset));
    }
    yrow[n] = tfl_mac_output(acc, b, n, mult[n & qmask], shift[n & qmask], out_off, act_lo, act_hi);
  }
}

/* The expanded input row of the DSP path (scratch from prepare, which requests it for depths of
 * one 4-block up to TFL_MAC_PATCH_BYTES), NULL without it. */
static const uint32_t *fc_patch(tfl_context *ctx, const fc_data *d, const int8_t *row) {
#if TFL_MAC_DSP
  if (d->scratch >= 0 && d->filter_offset == 0 && d->depth <= TFL_MAC_PATCH_BYTES) {
    uint32_t *patch = (uint32_t *)tfl_scratch(ctx, d->scratch);
    tfl_patch_expand(patch, row, d->depth >> 2, d->input_offset);
    return patch;
  }
#else
  (void)ctx, (void)d, (void)row;
#endif
  return NULL;
}

static tfl_status fc_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const fc_data *d = (const fc_data *)node->data;
  const int32_t *mult = ctx->mem.pool + d->pool_index;
  const int32_t qmask = t.w->quant_count > 1 ? -1 : 0; /* per-tensor: every unit reads index 0 */
  const int32_t depth = d->depth, units = d->units;
#if TFL_MAC_MVE
  if (d->filter_offset == 0) { /* Helium: 16 products per instruction, vector requantization */
    const tfl_mac_out o = {t.b,        mult,      mult + t.w->quant_count, qmask, d->output_offset,
                           d->act_min, d->act_max};
    tfl_mve_fc(t.x, t.wt, d->batches, depth, units, d->input_offset, &o, t.y);
    return TFL_OK;
  }
#endif
  for (int32_t batch = 0; batch < d->batches; ++batch) {
    const int8_t *row = t.x + batch * depth;
    fc_units(d, row, t.wt, units, t.b, mult, mult + t.w->quant_count, qmask, t.y + batch * units,
             fc_patch(ctx, d, row));
  }
  return TFL_OK;
}

#if TFL_MAC_DSP
/* DSP, per-tensor 4-bit palette (tfl_wz_pairs4): no decode pass. Each input row is expanded
 * into natural int16 pairs (the scratch the dense path expands into) and every index byte
 * fetches its two weights as one SMLAD operand from the 256-entry pair table on the stack.
 * 0 when the weights or shapes do not fit this path. */
TFL_MAC_OUTLINE static int fc_eval_pairs(tfl_context *ctx, tfl_node *node) {
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const fc_data *d = (const fc_data *)node->data;
  const int32_t depth = d->depth, units = d->units;
  uint32_t pairs[256];
  if (d->scratch < 0 || d->filter_offset != 0 || (depth & 3) != 0 || depth > TFL_MAC_PATCH_BYTES) {
    return 0;
  }
  const uint8_t *idx = tfl_wz_pairs4(t.w, pairs);
  if (idx == NULL) return 0;
  const int32_t *mult = ctx->mem.pool + d->pool_index;
  const int32_t *shift = mult + t.w->quant_count;
  const int32_t qmask = t.w->quant_count > 1 ? -1 : 0;
  const int32_t out_off = d->output_offset, act_lo = d->act_min, act_hi = d->act_max;
  const int32_t half = depth >> 1;
  uint32_t *xp = (uint32_t *)tfl_scratch(ctx, d->scratch);
  for (int32_t batch = 0; batch < d->batches; ++batch) {
    int8_t *yrow = t.y + batch * units;
    tfl_wz_expand_pairs(xp, t.x + batch * depth, depth >> 2, d->input_offset);
    int32_t n = 0;
    for (; n + 4 <= units; n += 4) {
      uint32_t acc[4];
      tfl_wz_dot4_pairs(xp, idx + n * half, half, half, pairs, acc);
      for (int32_t j = 0; j < 4; ++j) {
        const int32_t q = (n + j) & qmask;
        yrow[n + j] =
            tfl_mac_output(acc[j], t.b, n + j, mult[q], shift[q], out_off, act_lo, act_hi);
      }
    }
    for (; n < units; ++n) {
      const uint32_t acc = tfl_wz_dot1_pairs(xp, idx + n * half, half, pairs);
      yrow[n] =
          tfl_mac_output(acc, t.b, n, mult[n & qmask], shift[n & qmask], out_off, act_lo, act_hi);
    }
  }
  return 1;
}
#endif

/* Compressed weights: per input row, tfl_wz_chunk units at a time are decoded onto the stack and
 * run through the dense loops (fc_units); on DSP cores a per-tensor 4-bit palette takes
 * fc_eval_pairs instead. */
static tfl_status fc_eval_wz(tfl_context *ctx, tfl_node *node) {
#if TFL_MAC_DSP
  if (fc_eval_pairs(ctx, node)) return TFL_OK;
#endif
  const fc_data *d = (const fc_data *)node->data;
  tfl_wz_sparse view;
  if (d->filter_offset == 0 && tfl_wz_sparse_view(tfl_node_input(ctx, node, 1), &view)) {
    fc_eval_sparse(ctx, node, &view);
    return TFL_OK;
  }
  fc_decode_chunks(ctx, node);
  return TFL_OK;
}

/* Sparse weights (zero point 0): each unit multiplies only its non-zero weights. */
static void fc_eval_sparse(tfl_context *ctx, tfl_node *node, const tfl_wz_sparse *view) {
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const fc_data *d = (const fc_data *)node->data;
  const int32_t *mult = ctx->mem.pool + d->pool_index;
  const int32_t *shift = mult + t.w->quant_count;
  const int32_t qmask = t.w->quant_count > 1 ? -1 : 0;
  const int32_t out_off = d->output_offset, act_lo = d->act_min, act_hi = d->act_max;
  const int32_t depth = d->depth, units = d->units, in_off = d->input_offset;
  for (int32_t batch = 0; batch < d->batches; ++batch) {
    const int8_t *row = t.x + batch * depth;
    int8_t *yrow = t.y + batch * units;
    for (int32_t n = 0; n < units; ++n) {
      const uint32_t acc = tfl_wz_sparse_dot(view, n, row, in_off);
      yrow[n] =
          tfl_mac_output(acc, t.b, n, mult[n & qmask], shift[n & qmask], out_off, act_lo, act_hi);
    }
  }
}

/* The decode-onto-the-stack form of fc_eval_wz (out of line: its buffer and fc_eval_pairs'
 * table never share a frame). */
TFL_MAC_OUTLINE static void fc_decode_chunks(tfl_context *ctx, tfl_node *node) {
  const tfl_conv_io t = tfl_conv_eval_io(ctx, node);
  const fc_data *d = (const fc_data *)node->data;
  const int32_t *mult = ctx->mem.pool + d->pool_index;
  const int32_t *shift = mult + t.w->quant_count;
  const int32_t qmask = t.w->quant_count > 1 ? -1 : 0;
  const int32_t depth = d->depth, units = d->units, chunk = tfl_wz_chunk(depth);
  int8_t buf[TFL_WZ_STACK_BYTES];
  for (int32_t batch = 0; batch < d->batches; ++batch) {
    const int8_t *row = t.x + batch * depth;
    const uint32_t *patch = fc_patch(ctx, d, row);
    for (int32_t n0 = 0; n0 < units; n0 += chunk) {
      const int32_t n = tfl_min(chunk, units - n0), q0 = n0 & qmask;
      tfl_wz_decode_rows(t.w, n0, n, buf);
      fc_units(d, row, buf, n, t.b != NULL ? t.b + n0 : NULL, mult + q0, shift + q0, qmask,
               t.y + batch * units + n0, patch);
    }
  }
}

/* 16x8: out[b][n] = clamp(requant(sum_k x[b][k] * (w[n][k] - zp_w) + bias[n])), int16 in and
 * out (zero point 0). The accumulator is int64 with an int64 bias (TFLM's int64 requantization,
 * tfl_requantize_int64), else int32 (wrapping) with the int8 path's requantization. */
static tfl_status fc_eval_int16(tfl_context *ctx, tfl_node *node) {
  const fc_data *d = (const fc_data *)node->data;
  const tfl_tensor *w = tfl_node_input(ctx, node, 1);
  const tfl_out16 o = tfl_out16_of(ctx, d->pool_index, w, tfl_node_input(ctx, node, 2), d->wide_acc,
                                   d->act_min, d->act_max);
  const int16_t *x = (const int16_t *)tfl_node_input(ctx, node, 0)->data;
  int16_t *y = (int16_t *)tfl_node_output(ctx, node, 0)->data;
  const int32_t depth = d->depth, units = d->units, w_off = d->filter_offset;
  for (int32_t batch = 0; batch < d->batches; ++batch, x += depth, y += units) {
    int32_t n = 0;
#if TFL_MAC_DSP
    /* four units at a time by SMLAD (tfl_kernel_mac16.h: the same 64-bit sums) */
    for (; w_off == 0 && n + 4 <= units; n += 4) {
      uint64_t sum[4];
      uint32_t unused[4];
      tfl_mac16_clear(sum, unused);
      tfl_dot4_s16_wide(x, (const int8_t *)w->data + n * depth, depth, depth, sum);
      for (int32_t j = 0; j < 4; ++j) y[n + j] = tfl_out16_value(&o, sum[j], n + j);
    }
#endif
    for (; n < units; ++n) {
      const int8_t *wr = (const int8_t *)w->data + n * depth;
      uint64_t sum = 0;
      for (int32_t k = 0; k < depth; ++k) sum += (uint64_t)(int64_t)(x[k] * (wr[k] + w_off));
      y[n] = tfl_out16_value(&o, sum, n);
    }
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(fully_connected, 9, "FULLY_CONNECTED", fc_prepare, fc_eval);
TFL_DEFINE_PREPARE(fully_connected, fc_prepare);
