/* UNIDIRECTIONAL_SEQUENCE_LSTM, the integer LSTM of TFLite's int8 op set: int8 input, output and
 * hidden state, int8 weights (per-tensor, zero point 0), int32 gate biases, int16 cell state.
 * The hidden state (input 18) and cell state (input 19) are variable tensors: they keep their
 * values between invokes, as in TFLM, and start at zero (tfl_init, tfl_reset_variables).
 *
 * Inputs (TFLite's numbering): 0 x [batch, time, in] ([time, batch, in] with time_major);
 * 1-4 input-to-{input, forget, cell, output} weights [cell, in]; 5-8 recurrent-to-{...} weights
 * [cell, cell]; 12-15 {input, forget, cell, output} gate biases [cell]; 18 hidden state
 * [batch, cell]; 19 cell state [batch, cell]. Peephole (9-11), projection (16-17) and layer-norm
 * (20-23) inputs are refused (TFL_ERR_UNSUPPORTED_OPTION), as TFLM refuses them, and so is an LSTM
 * without an input gate (CIFG). Output 0: [batch, time, cell] (or time-major), the hidden state
 * of every step, bytes copied as TFLM does (no requantization).
 *
 * Per step and batch row, unit j (all integer, TFLM's order of rounding):
 *   gate g = act(sat16(rq16(W_g x + b_g, s_x w_g / 2^-12) + rq16(R_g h, s_h r_g / 2^-12)))
 *     act = sigmoid for the input, forget and output gates, tanh for the cell gate; Q3.12 in,
 *     Q0.15 out (tfl_kernel_lut16.h);
 *   c = sat16(rq16(f * c, 2^-15) + rq16(i * g, 2^-30 / s_c)), clipped to +-cell_clip / s_c;
 *   h = clamp8(zp_h + rq(tanh(c) * o, 2^-30 / s_h)).
 * Every unit reads the whole previous hidden state, so the new one is written to the output and
 * copied into the state after the step (no scratch memory). s_c must be a power of two (the
 * converter's choice): tanh of the cell state is a shift of it.
 *
 * 16x8 (int16 x, h and output, zero point 0; int8 weights; int64 gate biases; selected in
 * prepare): the same steps with TFLM's 16x8 gate sums: int64 accumulators requantized as
 * tfl_requantize_int64 does, and h clamped to int16.
 *
 * Pool: 22 words, (multiplier, shift) pairs: input and recurrent for each gate in the order
 * input, forget, cell, output (16 words), then f*c, i*g and o*tanh(c). */
#include "tfl_kernel.h"
#include "tfl_kernel_int16.h"
#include "tfl_kernel_lut16.h"
#include "tfl_mac.h"

enum { LSTM_INPUTS = 24, LSTM_POOL_WORDS = 22 };
enum {
  IN_X = 0,
  IN_W = 1,
  IN_R = 5,
  IN_PEEP = 9,
  IN_BIAS = 12,
  IN_PROJ = 16,
  IN_H = 18,
  IN_C = 19,
  IN_NORM = 20
};
enum { GATE_I = 0, GATE_F = 1, GATE_G = 2, GATE_O = 3 };

typedef struct {
  int32_t pool_index;
  int32_t input_offset;  /* -zero point of x */
  int32_t hidden_offset; /* -zero point of h */
  int32_t hidden_zp;
  int32_t batches, steps, n_input, n_cell;
  int32_t time_major;
  int32_t tanh_multiplier, tanh_shift; /* tanh of the cell state */
  int32_t clip;                        /* quantized cell clip, -1 = none (0 clips to 0) */
} lstm_data;
TFL_OP_DATA_FITS(lstm_data);

static tfl_status lstm_eval16(tfl_context *ctx, tfl_node *node);
TFL_DEFINE_KERNEL16(lstm16, 44, "UNIDIRECTIONAL_SEQUENCE_LSTM", lstm_prepare, lstm_eval16);

/* A per-tensor symmetric int8 weight matrix [rows, cols]. */
static tfl_status check_weights(const tfl_tensor *w, int32_t rows, int32_t cols) {
  if (w == NULL) return TFL_ERR_UNSUPPORTED_OPTION; /* CIFG: no input gate */
  if (w->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!w->is_constant) return TFL_ERR_UNSUPPORTED_OPTION;
  if (w->dims_count != 2 || w->dims[0] != rows || w->dims[1] != cols) return TFL_ERR_BAD_SHAPE;
  if (w->quant_count != 1 || !(w->scale > 0.0f) || w->zero_point != 0) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  return TFL_OK;
}

static tfl_status lstm_prepare(tfl_context *ctx, tfl_node *node) {
  lstm_data *d = (lstm_data *)node->data;
  if (node->input_count != LSTM_INPUTS || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  for (int32_t i = IN_PEEP; i < IN_PEEP + 3; ++i) {
    if (tfl_node_input(ctx, node, i) != NULL) return TFL_ERR_UNSUPPORTED_OPTION;
  }
  for (int32_t i = IN_PROJ; i < IN_PROJ + 2; ++i) {
    if (tfl_node_input(ctx, node, i) != NULL) return TFL_ERR_UNSUPPORTED_OPTION;
  }
  for (int32_t i = IN_NORM; i < IN_NORM + 4; ++i) {
    if (tfl_node_input(ctx, node, i) != NULL) return TFL_ERR_UNSUPPORTED_OPTION;
  }
  const tfl_tensor *x = tfl_node_input(ctx, node, IN_X);
  const tfl_tensor *h = tfl_node_input(ctx, node, IN_H);
  const tfl_tensor *c = tfl_node_input(ctx, node, IN_C);
  const tfl_tensor *y = tfl_node_output(ctx, node, 0);
  if (x == NULL || h == NULL || c == NULL || y == NULL) return TFL_ERR_MODEL_INVALID;
  /* int8 x, h and y (int32 biases), or 16x8: int16 x, h and y (int64 biases) */
  const int wide = TFL_IS_INT16(x);
  const int32_t act_type = wide ? TFL_TYPE_INT16 : TFL_TYPE_INT8;
  const int32_t bias_type = wide ? TFL_TYPE_INT64 : TFL_TYPE_INT32;
  if (x->type != act_type || h->type != act_type || y->type != act_type ||
      c->type != TFL_TYPE_INT16) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  /* the states must be variables: their memory is never shared with other tensors */
  if (!h->is_variable || !c->is_variable || h == c) return TFL_ERR_MODEL_INVALID;
  int time_major;
  int8_t activation;
  float cell_clip;
  TFL_ENSURE(tfl_option_i8(ctx, node, 0, TFL_ACT_TANH, &activation));
  TFL_ENSURE(tfl_option_f32(ctx, node, 1, 0.0f, &cell_clip));
  TFL_ENSURE(tfl_option_bool(ctx, node, 3, 0, &time_major));
  /* TFLM's integer cell gate: tanh (sigmoid cannot be expressed by the schema's enum) */
  if (activation != TFL_ACT_TANH) return TFL_ERR_UNSUPPORTED_OPTION;

  if (x->dims_count != 3 || h->dims_count != 2 || y->dims_count != 3) return TFL_ERR_BAD_SHAPE;
  const int32_t batches = time_major ? x->dims[1] : x->dims[0];
  const int32_t steps = time_major ? x->dims[0] : x->dims[1];
  const int32_t n_input = x->dims[2];
  const int32_t n_cell = h->dims[1];
  if (batches <= 0 || steps <= 0 || n_input <= 0 || n_cell <= 0) return TFL_ERR_BAD_SHAPE;
  if (h->dims[0] != batches || tfl_tensor_elements(c) != batches * n_cell) {
    return TFL_ERR_BAD_SHAPE;
  }
  if (y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1] || y->dims[2] != n_cell) {
    return TFL_ERR_BAD_SHAPE;
  }
  if (x->quant_count != 1 || h->quant_count != 1 || c->quant_count != 1) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  if (!(x->scale > 0.0f) || !(h->scale > 0.0f) || !(c->scale > 0.0f) || c->zero_point != 0) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  if (wide && (x->zero_point != 0 || h->zero_point != 0)) return TFL_ERR_BAD_QUANTIZATION;
  for (int32_t g = 0; g < 4; ++g) {
    const tfl_tensor *b = tfl_node_input(ctx, node, IN_BIAS + g);
    TFL_ENSURE(check_weights(tfl_node_input(ctx, node, IN_W + g), n_cell, n_input));
    TFL_ENSURE(check_weights(tfl_node_input(ctx, node, IN_R + g), n_cell, n_cell));
    if (b == NULL) return TFL_ERR_UNSUPPORTED_OPTION;
    if (b->type != bias_type) return TFL_ERR_UNSUPPORTED_TYPE;
    if (!b->is_constant) return TFL_ERR_UNSUPPORTED_OPTION;
    if (b->dims_count != 1 || b->dims[0] != n_cell) return TFL_ERR_BAD_SHAPE;
  }
  /* cell scale 2^p: tanh(c) reads c * 2^(p + 12) in Q3.12, i.e. c * 3 << (p + 12) before the
   * table (or a rounding right shift for p < -12). p in [-43, 1] keeps that inside int32. */
  uint32_t bits;
  memcpy(&bits, &c->scale, sizeof bits);
  const int32_t p = (int32_t)((bits >> 23) & 0xFFu) - 127; /* normal float 2^p: no mantissa */
  if ((bits & 0x807FFFFFu) != 0 || p < -43 || p > 1) return TFL_ERR_BAD_QUANTIZATION;
  const int32_t left = 12 + p;
  d->tanh_multiplier = left >= 0 ? 3 << left : 3;
  d->tanh_shift = left >= 0 ? 0 : -left;
  d->clip = -1;
  if (cell_clip > 0.0f) {
    double q = (double)cell_clip / (double)c->scale;
    q = q < -32768.0 ? -32768.0 : (q > 32767.0 ? 32767.0 : q);
    d->clip = (int32_t)(int16_t)q;
  }

  int32_t *pool;
  TFL_ENSURE(tfl_pool_alloc(ctx, LSTM_POOL_WORDS, &pool));
  d->pool_index = (int32_t)(pool - ctx->mem.pool);
  const double gate_scale = 1.0 / 4096.0; /* Q3.12 */
  for (int32_t g = 0; g < 4; ++g) {
    const tfl_tensor *w = tfl_node_input(ctx, node, IN_W + g);
    const tfl_tensor *r = tfl_node_input(ctx, node, IN_R + g);
    tfl_quantize_multiplier((double)x->scale * (double)w->scale / gate_scale, &pool[4 * g],
                            &pool[4 * g + 1]);
    tfl_quantize_multiplier((double)h->scale * (double)r->scale / gate_scale, &pool[4 * g + 2],
                            &pool[4 * g + 3]);
  }
  const double q15 = 1.0 / 32768.0;
  tfl_quantize_multiplier(q15 * (double)c->scale / (double)c->scale, &pool[16], &pool[17]);
  tfl_quantize_multiplier(q15 * q15 / (double)c->scale, &pool[18], &pool[19]);
  tfl_quantize_multiplier(q15 * q15 / (double)h->scale, &pool[20], &pool[21]);
  d->input_offset = -x->zero_point;
  d->hidden_offset = -h->zero_point;
  d->hidden_zp = h->zero_point;
  d->batches = batches;
  d->steps = steps;
  d->n_input = n_input;
  d->n_cell = n_cell;
  d->time_major = time_major;
  if (wide) {
    /* the eight gate (multiplier, shift) pairs feed tfl_requantize_int64 */
    for (int32_t k = 0; k < 8; ++k) {
      if (!tfl_int16_multipliers_ok(pool + 2 * k, 1)) return TFL_ERR_BAD_QUANTIZATION;
    }
    node->kernel = &lstm16;
  }
  return TFL_OK;
}

static int32_t sat16(int32_t v) { return tfl_clamp(v, -32768, 32767); }

/* Pre-activations (Q3.12) of one gate for units j0 .. j0 + n - 1 (n <= 4). */
static void gate_preactivations(const int8_t *x, const int8_t *h, const tfl_tensor *w,
                                const tfl_tensor *r, const int32_t *bias, const int32_t *mult,
                                const lstm_data *d, int32_t j0, int32_t n, int32_t out[4]) {
  uint32_t in_acc[4] = {0, 0, 0, 0}, rec_acc[4] = {0, 0, 0, 0};
  const int8_t *wi = (const int8_t *)w->data + j0 * d->n_input;
  const int8_t *wr = (const int8_t *)r->data + j0 * d->n_cell;
  if (n == 4) {
    tfl_dot4(x, wi, d->n_input, d->n_input, d->input_offset, in_acc);
    tfl_dot4(h, wr, d->n_cell, d->n_cell, d->hidden_offset, rec_acc);
  } else {
    for (int32_t k = 0; k < n; ++k) {
      in_acc[k] = tfl_dot1(x, wi + k * d->n_input, d->n_input, d->input_offset, 0);
      rec_acc[k] = tfl_dot1(h, wr + k * d->n_cell, d->n_cell, d->hidden_offset, 0);
    }
  }
  for (int32_t k = 0; k < n; ++k) {
    const uint32_t a = in_acc[k] + (uint32_t)bias[j0 + k];
    const int32_t vi = sat16(tfl_mac_requantize((int32_t)a, mult[0], mult[1]));
    const int32_t vr = sat16(tfl_mac_requantize((int32_t)rec_acc[k], mult[2], mult[3]));
    out[k] = sat16(vi + vr);
  }
}

/* sum_i v[i] * w[i] of int16 values and int8 weights, wrapping in 64 bits. */
static uint64_t dot16(const int16_t *v, const int8_t *w, int32_t len) {
  uint64_t acc = 0;
  for (int32_t i = 0; i < len; ++i) acc += (uint64_t)(int64_t)((int32_t)v[i] * (int32_t)w[i]);
  return acc;
}

/* 16x8: the same pre-activations from int64 sums (int64 bias, zero points 0). */
static void gate_preactivations16(const int16_t *x, const int16_t *h, const tfl_tensor *w,
                                  const tfl_tensor *r, const void *bias, const int32_t *mult,
                                  const lstm_data *d, int32_t j0, int32_t n, int32_t out[4]) {
  for (int32_t k = 0; k < n; ++k) {
    const int8_t *wi = (const int8_t *)w->data + (j0 + k) * d->n_input;
    const int8_t *wr = (const int8_t *)r->data + (j0 + k) * d->n_cell;
    const uint64_t a = dot16(x, wi, d->n_input) + (uint64_t)tfl_load_i64(bias, j0 + k);
    const int32_t vi = sat16(tfl_requantize_int64((int64_t)a, mult[0], mult[1]));
    const int32_t vr =
        sat16(tfl_requantize_int64((int64_t)dot16(h, wr, d->n_cell), mult[2], mult[3]));
    out[k] = sat16(vi + vr);
  }
}

/* Every step of every batch row; `bytes`: 1 for int8 x, h and y, 2 for int16 (16x8). */
static tfl_status lstm_run(tfl_context *ctx, tfl_node *node, int32_t bytes) {
  const lstm_data *d = (const lstm_data *)node->data;
  const tfl_tensor *xt = tfl_node_input(ctx, node, IN_X);
  tfl_tensor *ht = tfl_node_input(ctx, node, IN_H);
  tfl_tensor *ct = tfl_node_input(ctx, node, IN_C);
  tfl_tensor *yt = tfl_node_output(ctx, node, 0);
  const tfl_tensor *w[4], *r[4];
  const void *bias[4];
  for (int32_t g = 0; g < 4; ++g) {
    w[g] = tfl_node_input(ctx, node, IN_W + g);
    r[g] = tfl_node_input(ctx, node, IN_R + g);
    bias[g] = tfl_node_input(ctx, node, IN_BIAS + g)->data;
  }
  const int32_t *pool = ctx->mem.pool + d->pool_index;
  const int32_t n_cell = d->n_cell;
  const int wide = TFL_WITH_INT16 && bytes == 2;
  const int32_t lo = wide ? -32768 : -128, hi = wide ? 32767 : 127;
  for (int32_t b = 0; b < d->batches; ++b) {
    uint8_t *h = (uint8_t *)ht->data + b * n_cell * bytes;
    int16_t *c = (int16_t *)ct->data + b * n_cell;
    for (int32_t t = 0; t < d->steps; ++t) {
      const int32_t row = d->time_major ? t * d->batches + b : b * d->steps + t;
      const uint8_t *x = (const uint8_t *)xt->data + row * d->n_input * bytes;
      uint8_t *y = (uint8_t *)yt->data + row * n_cell * bytes;
      for (int32_t j0 = 0; j0 < n_cell; j0 += 4) {
        const int32_t n = tfl_min(4, n_cell - j0);
        int32_t pre[4][4];
        for (int32_t g = 0; g < 4; ++g) {
          if (wide) {
            gate_preactivations16((const int16_t *)(const void *)x, (const int16_t *)(void *)h,
                                  w[g], r[g], bias[g], pool + 4 * g, d, j0, n, pre[g]);
          } else {
            gate_preactivations((const int8_t *)x, (const int8_t *)h, w[g], r[g],
                                (const int32_t *)bias[g], pool + 4 * g, d, j0, n, pre[g]);
          }
        }
        for (int32_t k = 0; k < n; ++k) {
          const int32_t ig = tfl_lut16_sigmoid(pre[GATE_I][k]);
          const int32_t fg = tfl_lut16_sigmoid(pre[GATE_F][k]);
          const int32_t gg = tfl_lut16_tanh(pre[GATE_G][k], 3, 0);
          const int32_t og = tfl_lut16_sigmoid(pre[GATE_O][k]);
          const int32_t kept = sat16(tfl_mac_requantize(fg * c[j0 + k], pool[16], pool[17]));
          const int32_t added = sat16(tfl_mac_requantize(ig * gg, pool[18], pool[19]));
          int32_t cell = sat16(kept + added);
          if (d->clip >= 0) cell = tfl_clamp(cell, -d->clip, d->clip);
          c[j0 + k] = (int16_t)cell;
          const int32_t th = tfl_lut16_tanh(cell, d->tanh_multiplier, d->tanh_shift);
          const int32_t out =
              tfl_clamp(d->hidden_zp + tfl_mac_requantize(th * og, pool[20], pool[21]), lo, hi);
          if (wide) {
            ((int16_t *)(void *)y)[j0 + k] = (int16_t)out;
          } else {
            ((int8_t *)y)[j0 + k] = (int8_t)out;
          }
        }
      }
      memmove(h, y, (size_t)(n_cell * bytes)); /* the same bytes only in a malformed model */
    }
  }
  return TFL_OK;
}

static tfl_status lstm_eval(tfl_context *ctx, tfl_node *node) { return lstm_run(ctx, node, 1); }

static tfl_status lstm_eval16(tfl_context *ctx, tfl_node *node) { return lstm_run(ctx, node, 2); }

TFL_DEFINE_KERNEL(unidirectional_sequence_lstm, 44, "UNIDIRECTIONAL_SEQUENCE_LSTM", lstm_prepare,
                  lstm_eval);
