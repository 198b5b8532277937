/* ELU, int8 (TFLM reference semantics): y = x for x >= 0, e^x - 1 below, through a table of the
 * 256 possible outputs built in prepare as TFLM builds it, in single precision:
 *   x = input_scale * (q - input_zero_point)
 *   t = x < 0 ? expf(x) - 1 : x
 *   out = clamp(round_half_away(t * (1 / output_scale)) + output_zero_point, -128, 127)
 * The table (64 words) lives in the parameter pool (plan.py's ELU_POOL_WORDS); eval only looks
 * values up. There is no libm: expf is elu_expf below, e^x in double precision rounded once to
 * float, i.e. the correctly rounded expf except within about 1e-16 of a rounding tie. (A libm
 * expf may differ from it by one float ulp near ties; that changes an output only if
 * t / output_scale also lands within about one ulp of a .5 boundary, which the tests never
 * meet.) input_scale / output_scale must stay below 2^20, so that no rescaled value reaches
 * 2^31, where TFLM's own float-to-int conversion would overflow. */
#include "tfl_kernel.h"
#include "tfl_kernel_lut8.h"

#define ELU_POOL_WORDS 64 /* 256 int8 outputs */

typedef struct {
  int32_t pool_index; /* the table's first word in ctx->mem.pool */
} tfl_elu_data;
TFL_OP_DATA_FITS(tfl_elu_data);

/* e^x for x <= 0 to the nearest float: x = k ln2 + r with |r| <= ln2 / 2 (ln2 split in a high
 * part with 32 significant bits, so k * hi is exact, and the rest), e^r by its Taylor series
 * (16 terms: the next is below 2^-60), times 2^k. */
static float elu_expf(float x) {
  const double ln2_hi = 6.93147180369123816490e-01; /* 0x3FE62E42FEE00000 */
  const double ln2_lo = 1.90821492927058770e-10;
  const double inv_ln2 = 1.44269504088896339;
  double r;
  double sum = 1.0;
  double term = 1.0;
  int32_t k;
  int32_t i;
  if (!(x > -104.0f)) return 0.0f;          /* below the smallest subnormal float (and NaN) */
  k = (int32_t)((double)x * inv_ln2 - 0.5); /* x <= 0: truncation after -0.5 rounds */
  r = ((double)x - (double)k * ln2_hi) - (double)k * ln2_lo;
  for (i = 1; i <= 16; ++i) {
    term = term * r / (double)i;
    sum += term;
  }
  for (; k < 0; ++k) sum *= 0.5; /* exact: doubles reach 2^-1022 */
  return (float)sum;
}

static tfl_status elu_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in;
  const tfl_tensor *out;
  tfl_elu_data d;
  int32_t *pool;
  int8_t *table;
  float inverse_scale;
  int32_t q;
  if (node->input_count != 1 || node->output_count != 1) return TFL_ERR_MODEL_INVALID;
  TFL_ENSURE(tfl_lut8_prepare(ctx, node, &in, &out)); /* int8, quantized, same element count */
  if (!(in->scale / out->scale < 1048576.0f)) return TFL_ERR_BAD_QUANTIZATION;
  TFL_ENSURE(tfl_pool_alloc(ctx, ELU_POOL_WORDS, &pool));
  d.pool_index = (int32_t)(pool - ctx->mem.pool);
  table = (int8_t *)pool;
  inverse_scale = 1.0f / out->scale;
  for (q = -128; q <= 127; ++q) {
    const float x = in->scale * (float)(q - in->zero_point);
    const float t = x < 0.0f ? elu_expf(x) - 1.0f : x;
    const float v = tfl_round_half_away_f(t * inverse_scale) + (float)out->zero_point;
    table[q + 128] = (int8_t)(v >= 127.0f ? 127 : (v <= -128.0f ? -128 : (int32_t)v));
  }
  return tfl_node_set_data(node, &d, sizeof d);
}

static tfl_status elu_eval(tfl_context *ctx, tfl_node *node) {
  const tfl_elu_data *d = (const tfl_elu_data *)node->data;
  const int8_t *table = (const int8_t *)(ctx->mem.pool + d->pool_index);
  tfl_io_i8 io = tfl_io_i8_of(ctx, node);
  const int32_t n = tfl_tensor_elements(io.out);
  int32_t i;
  for (i = 0; i < n; ++i) io.y[i] = table[io.x[i] + 128];
  return TFL_OK;
}

TFL_DEFINE_KERNEL(elu, 111, "ELU", elu_prepare, elu_eval);
