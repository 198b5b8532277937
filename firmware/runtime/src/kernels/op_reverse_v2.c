/* REVERSE_V2, int8 and 16x8 int16 (TFLM reference semantics; inner counts bytes).
 *
 * Reverses the input along the axes of input 1 (a constant int32 vector, negative counts from
 * the back). TFLM accepts only axes that form one contiguous run once sorted (e.g. [1, 2], not
 * [0, 2] nor a repeated axis) and at least one; tinyflash refuses the same models. With the
 * dims grouped into outer (before the run), the run, and inner (after it), every inner block
 * of the run is written in reverse order. Bytes are copied as they are (no quantization). */
#include "tfl_kernel.h"
#include "tfl_kernel_index.h"

#define TFL_REVERSE_MAX_AXES 8

typedef struct {
  int32_t outer;
  int32_t count; /* elements of the reversed run of dims */
  int32_t inner;
} tfl_reverse_data;
TFL_OP_DATA_FITS(tfl_reverse_data);

static tfl_status reverse_v2_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *axes, *out;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_COPY, TFL_TYPE_BIT(TFL_TYPE_INT32), &in,
                                 &axes, &out));
  if (out->type != in->type) return TFL_ERR_UNSUPPORTED_TYPE;
  if (!tfl_index_ok(axes)) return TFL_ERR_BAD_BUFFER;
  if (!tfl_same_shape(in, out)) return TFL_ERR_BAD_SHAPE;
  const int32_t rank = (int32_t)in->dims_count;
  const int32_t n = tfl_tensor_elements(axes);
  if (axes->dims_count != 1 || n < 1 || n > TFL_REVERSE_MAX_AXES || n > rank)
    return TFL_ERR_BAD_SHAPE;
  int32_t lo = rank;
  int32_t hi = -1;
  int32_t mask = 0;
  for (int32_t i = 0; i < n; ++i) {
    int64_t a = tfl_index_at(axes, i);
    if (a < -rank || a >= rank) return TFL_ERR_BAD_SHAPE;
    if (a < 0) a += rank;
    if ((mask >> a) & 1) return TFL_ERR_BAD_ARGUMENT; /* repeated: not one contiguous run */
    mask |= 1 << a;
    lo = tfl_min(lo, (int32_t)a);
    hi = tfl_max(hi, (int32_t)a);
  }
  if (hi - lo + 1 != n) return TFL_ERR_BAD_ARGUMENT; /* TFLM: "Non-contiguous axes" */
  /* inner counted in bytes: one eval for int8 and int16 */
  tfl_reverse_data d = {1, 1, tfl_copy_bytes(in->type)};
  for (int32_t i = 0; i < rank; ++i) {
    if (i < lo)
      d.outer *= in->dims[i];
    else if (i <= hi)
      d.count *= in->dims[i];
    else
      d.inner *= in->dims[i];
  }
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status reverse_v2_eval(tfl_context *ctx, tfl_node *node) {
  const uint8_t *x = (const uint8_t *)tfl_node_input(ctx, node, 0)->data;
  uint8_t *y = (uint8_t *)tfl_node_output(ctx, node, 0)->data;
  tfl_reverse_data d;
  memcpy(&d, node->data, sizeof d);
  for (int32_t o = 0; o < d.outer; ++o) {
    const uint8_t *src = x + (size_t)o * d.count * d.inner;
    uint8_t *dst = y + (size_t)o * d.count * d.inner;
    for (int32_t k = 0; k < d.count; ++k)
      memcpy(dst + (size_t)k * d.inner, src + (size_t)(d.count - 1 - k) * d.inner, (size_t)d.inner);
  }
  return TFL_OK;
}

TFL_DEFINE_KERNEL(reverse_v2, 105, "REVERSE_V2", reverse_v2_prepare, reverse_v2_eval);
