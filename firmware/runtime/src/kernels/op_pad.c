/* PAD and PADV2 (int8 and 16x8 int16). PADV2 is this file compiled again from op_padv2.c with
 * TFL_PAD_AS_PADV2 defined, so each kernel object stays self-contained.
 *
 * Matches TFLM: paddings is a constant int32 [rank, 2] tensor (TFLM misreads int64); PAD
 * fills with the output zero point, PADV2 with its constant int8 scalar, whose scale and zero
 * point must equal the output's. Negative amounts are refused: TensorFlow forbids them and
 * TFLM, which accepts them, copies input elements from the start regardless (not a crop). Input bytes are copied unchanged (TFLM does not requantize). TFLM stops at 5-D;
 * this kernel accepts up to TFL_MAX_DIMS. int16 (TFLM fills PAD with 0, PADV2 with its int16
 * scalar) requires zero points 0, so the same rules give the same values; prepare selects the
 * int16 eval, the same walk over 2-byte elements. */
#include "tfl_kernel.h"

typedef struct {
  int32_t rank;
  int32_t before[TFL_MAX_DIMS];   /* padding before each dim */
  int32_t valid_lo[TFL_MAX_DIMS]; /* output range [lo, hi) that maps to input element o - before */
  int32_t valid_hi[TFL_MAX_DIMS];
  int32_t value; /* fill value (an int8 or int16 value) */
} tfl_pad_data;
TFL_OP_DATA_FITS(tfl_pad_data);

static int32_t pad_index_at(const tfl_tensor *t, int32_t i) {
  int32_t v;
  memcpy(&v, (const uint8_t *)t->data + (size_t)i * sizeof(int32_t), sizeof(v));
  return v;
}

/* n fill values at dst: int8 (wide = 0, a constant at each call site) or int16 elements. */
static inline void pad_fill(uint8_t *dst, int32_t value, int32_t n, int wide) {
  int32_t i;
  if (!wide) {
    memset(dst, value, (size_t)n);
    return;
  }
  for (i = 0; i < n; ++i) ((int16_t *)(void *)dst)[i] = (int16_t)value;
}

/* The eval over int8 (wide = 0) or int16 elements. */
static inline tfl_status pad_walk(tfl_context *ctx, tfl_node *node, int wide) {
  const tfl_pad_data *d = (const tfl_pad_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const size_t es = wide ? 2u : 1u; /* element bytes */
  const uint8_t *src = (const uint8_t *)in->data;
  uint8_t *dst = (uint8_t *)out->data;
  const int32_t last = d->rank - 1;
  const int32_t row = out->dims[last];
  const int32_t lo = d->valid_lo[last], hi = d->valid_hi[last];
  int32_t in_stride[TFL_MAX_DIMS];
  int32_t idx[TFL_MAX_DIMS];
  int32_t rows = 1, r, k;
  for (k = last; k >= 0; --k) in_stride[k] = k == last ? 1 : in_stride[k + 1] * in->dims[k + 1];
  for (k = 0; k < last; ++k) {
    rows *= out->dims[k];
    idx[k] = 0;
  }
  if (row == 0) return TFL_OK;
  for (r = 0; r < rows; ++r) {
    int inside = 1;
    int32_t src_off = 0;
    for (k = 0; k < last; ++k) {
      if (idx[k] < d->valid_lo[k] || idx[k] >= d->valid_hi[k]) {
        inside = 0;
        break;
      }
      src_off += (idx[k] - d->before[k]) * in_stride[k];
    }
    if (!inside || hi == lo) {
      pad_fill(dst, d->value, row, wide);
    } else {
      if (lo > 0) pad_fill(dst, d->value, lo, wide);
      memcpy(dst + (size_t)lo * es, src + (size_t)(src_off + (lo - d->before[last])) * es,
             (size_t)(hi - lo) * es);
      if (row > hi) pad_fill(dst + (size_t)hi * es, d->value, row - hi, wide);
    }
    dst += (size_t)row * es;
    for (k = last - 1; k >= 0; --k) { /* advance the output index over dims 0..last-1 */
      if (++idx[k] < out->dims[k]) break;
      idx[k] = 0;
    }
  }
  return TFL_OK;
}

static tfl_status pad_eval(tfl_context *ctx, tfl_node *node) { return pad_walk(ctx, node, 0); }
static tfl_status pad_eval16(tfl_context *ctx, tfl_node *node) { return pad_walk(ctx, node, 1); }

#ifdef TFL_PAD_AS_PADV2
TFL_DEFINE_KERNEL16(pad_int16, 60, "PADV2", pad_prepare, pad_eval16);
#else
TFL_DEFINE_KERNEL16(pad_int16, 34, "PAD", pad_prepare, pad_eval16);
#endif

static tfl_status pad_prepare(tfl_context *ctx, tfl_node *node) {
  tfl_pad_data *d = (tfl_pad_data *)node->data;
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  const tfl_tensor *pads = tfl_node_input(ctx, node, 1);
  const tfl_tensor *cval = node->input_count > 2 ? tfl_node_input(ctx, node, 2) : NULL;
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  int32_t k;
  int wide;
  if (in == NULL || pads == NULL || out == NULL || node->output_count != 1)
    return TFL_ERR_MODEL_INVALID;
#ifdef TFL_PAD_AS_PADV2
  if (node->input_count < 2 || node->input_count > 3) return TFL_ERR_MODEL_INVALID;
#else
  if (node->input_count != 2) return TFL_ERR_MODEL_INVALID;
#endif
  if (in->type != out->type || (in->type != TFL_TYPE_INT8 && !TFL_IS_INT16(in)))
    return TFL_ERR_UNSUPPORTED_TYPE;
  wide = TFL_IS_INT16(in);
  /* symmetric 16x8 activations; TFLM pads int16 with 0, which is then the output zero point */
  if (wide && (in->zero_point != 0 || out->zero_point != 0)) return TFL_ERR_BAD_QUANTIZATION;
  if (pads->type != TFL_TYPE_INT32) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!pads->is_constant || pads->data == NULL) return TFL_ERR_BAD_BUFFER;
  if (in->dims_count != out->dims_count || in->dims_count < 1) return TFL_ERR_BAD_SHAPE;
  if (pads->dims_count != 2 || pads->dims[0] != in->dims_count || pads->dims[1] != 2 ||
      pads->bytes != (int32_t)(in->dims_count * 2 * (int32_t)sizeof(int32_t)))
    return TFL_ERR_BAD_SHAPE;
  d->rank = in->dims_count;
  for (k = 0; k < d->rank; ++k) {
    const int64_t before = pad_index_at(pads, 2 * k);
    const int64_t after = pad_index_at(pads, 2 * k + 1);
    const int64_t expect = (int64_t)in->dims[k] + before + after;
    int64_t lo, hi;
    if (before < 0 || after < 0) return TFL_ERR_BAD_ARGUMENT;
    if (expect != out->dims[k]) return TFL_ERR_BAD_SHAPE;
    lo = before > 0 ? before : 0;
    hi = (int64_t)out->dims[k] - (after > 0 ? after : 0);
    if (hi < lo) hi = lo;
    d->before[k] = (int32_t)before;
    d->valid_lo[k] = (int32_t)lo;
    d->valid_hi[k] = (int32_t)hi;
  }
  d->value = out->zero_point;
  if (cval != NULL) {
    if (cval->type != in->type) return TFL_ERR_UNSUPPORTED_TYPE;
    if (!cval->is_constant || cval->data == NULL || cval->bytes != (wide ? 2 : 1))
      return TFL_ERR_BAD_BUFFER;
    if (cval->zero_point != out->zero_point || cval->scale != out->scale)
      return TFL_ERR_BAD_QUANTIZATION;
    if (wide) {
      int16_t v;
      memcpy(&v, cval->data, sizeof v);
      d->value = v;
    } else {
      int8_t v;
      memcpy(&v, cval->data, sizeof v);
      d->value = v;
    }
  }
  if (TFL_WITH_INT16 && wide) node->kernel = &pad_int16; /* the int16 eval from now on */
  return TFL_OK;
}

#ifdef TFL_PAD_AS_PADV2
TFL_DEFINE_KERNEL(padv2, 60, "PADV2", pad_prepare, pad_eval);
#else
TFL_DEFINE_KERNEL(pad, 34, "PAD", pad_prepare, pad_eval);
#endif
