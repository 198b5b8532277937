/* BATCH_MATMUL, int8 and 16x8 int16 (TFLM reference arithmetic; int16: zero points 0 as TFLM
 * requires, the sums in int64 and requantized as TFLM's int64 form does, tfl_requantize_int64,
 * saturated to int16; prepare selects its eval).
 *
 * out[b][m][n] = requantize(sum_k (lhs[b][m][k] - lhs_zero_point) * (rhs[b][k][n] - rhs_zero_point))
 *                + output_zero_point, saturated to int8,
 * with lhs read transposed when BatchMatMulOptions.adj_x and rhs when adj_y. Both operands have
 * rank 2 to 5 and may be activations or constants (per-tensor quantized); their leading batch
 * dims broadcast NumPy-style. The multiplier is (double)(lhs_scale * rhs_scale, a float product)
 * / output_scale, split into Q31 and a shift as TFLM does; the int32 sums are exact. */
#include "tfl_kernel.h"
#include "tfl_kernel_int16.h"

#define TFL_BMM_MAX_RANK 5

typedef struct {
  int32_t m;
  int32_t k;
  int32_t n;
  int32_t adj_x;
  int32_t adj_y;
  int32_t lhs_zero_point;
  int32_t rhs_zero_point;
  int32_t output_zero_point;
  int32_t multiplier;
  int32_t shift;
} tfl_batch_matmul_data;
TFL_OP_DATA_FITS(tfl_batch_matmul_data);

/* Dim d (0-based) of t seen with rank `rank` (leading 1s added). */
static int32_t bmm_dim(const tfl_tensor *t, int32_t rank, int32_t d) {
  const int32_t j = d - (rank - (int32_t)t->dims_count);
  return j >= 0 ? t->dims[j] : 1;
}

static tfl_status batch_matmul_eval16(tfl_context *ctx, tfl_node *node);
TFL_DEFINE_KERNEL16(batch_matmul_int16, 126, "BATCH_MATMUL", batch_matmul_prepare,
                    batch_matmul_eval16);

/* The scales' product: in float (int8), or in double (int16). Out of line: inlined, gcc 12 -Os
 * for Cortex-M55 made the f32->f64 conversions conditional in an IT block, which the assembler
 * rejects. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static double
scales_product(float lhs, float rhs, int wide) {
  if (!wide) return (double)(lhs * rhs);
  return (double)lhs * (double)rhs;
}

static tfl_status batch_matmul_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *lhs, *rhs, *out;
  tfl_batch_matmul_data d;
  int adj_x = 0;
  int adj_y = 0;
  int wide;
  TFL_ENSURE(tfl_prepare_tensors(ctx, node, TFL_TYPES_COPY, TFL_TYPES_COPY, &lhs, &rhs, &out));
  if (rhs->type != lhs->type || out->type != lhs->type) return TFL_ERR_UNSUPPORTED_TYPE;
  wide = TFL_IS_INT16(lhs);
  if (lhs->quant_count != 1 || rhs->quant_count != 1 || out->quant_count != 1)
    return TFL_ERR_BAD_QUANTIZATION;
  if (wide && (lhs->zero_point != 0 || rhs->zero_point != 0 || out->zero_point != 0))
    return TFL_ERR_BAD_QUANTIZATION;
  if ((rhs->is_constant && rhs->data == NULL) || (lhs->is_constant && lhs->data == NULL))
    return TFL_ERR_BAD_BUFFER;
  TFL_ENSURE(tfl_option_bool(ctx, node, 0, 0, &adj_x)); /* BatchMatMulOptions.adj_x */
  TFL_ENSURE(tfl_option_bool(ctx, node, 1, 0, &adj_y));
  if (lhs->dims_count < 2 || lhs->dims_count > TFL_BMM_MAX_RANK || rhs->dims_count < 2 ||
      rhs->dims_count > TFL_BMM_MAX_RANK)
    return TFL_ERR_BAD_SHAPE;
  const int32_t rank = tfl_max((int32_t)lhs->dims_count, (int32_t)rhs->dims_count);
  if ((int32_t)out->dims_count != rank) return TFL_ERR_BAD_SHAPE;
  for (int32_t i = 0; i < rank - 2; ++i) {
    const int32_t a = bmm_dim(lhs, rank, i);
    const int32_t b = bmm_dim(rhs, rank, i);
    if (a != b && a != 1 && b != 1) return TFL_ERR_BAD_SHAPE;
    if (out->dims[i] != (a > b ? a : b)) return TFL_ERR_BAD_SHAPE;
  }
  memset(&d, 0, sizeof d);
  d.adj_x = adj_x;
  d.adj_y = adj_y;
  d.m = bmm_dim(lhs, rank, adj_x ? rank - 1 : rank - 2);
  d.k = bmm_dim(lhs, rank, adj_x ? rank - 2 : rank - 1);
  const int32_t k2 = bmm_dim(rhs, rank, adj_y ? rank - 1 : rank - 2);
  d.n = bmm_dim(rhs, rank, adj_y ? rank - 2 : rank - 1);
  if (d.k != k2 || out->dims[rank - 2] != d.m || out->dims[rank - 1] != d.n)
    return TFL_ERR_BAD_SHAPE;
  /* int8: 255 * 255 * k stays within int32; int16: 2^30 * k within the 48 bits TFLM's int64
   * requantization assumes */
  if (d.k > (wide ? (1 << 18) : 33025)) return TFL_ERR_BAD_SHAPE;
  d.lhs_zero_point = lhs->zero_point;
  d.rhs_zero_point = rhs->zero_point;
  d.output_zero_point = out->zero_point;
  /* int16: the scales' product in double, as tflite-micro's int16 path (its Q15 reduction of
   * the multiplier turns the float product's last bit into different outputs) */
  const double real = scales_product(lhs->scale, rhs->scale, wide) / (double)out->scale;
  if (!(real > 0.0)) return TFL_ERR_BAD_QUANTIZATION;
  tfl_quantize_multiplier(real, &d.multiplier, &d.shift);
  if (wide && (d.shift > 14 || d.shift < -48)) return TFL_ERR_BAD_QUANTIZATION;
  if (TFL_WITH_INT16 && wide) node->kernel = &batch_matmul_int16; /* the int16 eval from now on */
  return tfl_node_set_data(node, &d, sizeof d);
}

/* Element i of int8 (wide = 0) or int16 (wide = 1) data. */
static inline int32_t bmm_load(const void *p, int32_t i, int wide) {
  return wide ? ((const int16_t *)p)[i] : ((const int8_t *)p)[i];
}

/* Output (m, n)'s sum of products: in int32 for int8 (exact: prepare bounds k), in int64 for
 * int16 (as TFLM). */
static inline int64_t bmm_dot(const tfl_batch_matmul_data *d, const void *pa, const void *pb,
                              int32_t m, int32_t n, int wide) {
  int32_t k;
  int32_t acc32 = 0;
  int64_t acc64 = 0;
  for (k = 0; k < d->k; ++k) {
    const int32_t x =
        bmm_load(pa, d->adj_x ? k * d->m + m : m * d->k + k, wide) - d->lhs_zero_point;
    const int32_t y =
        bmm_load(pb, d->adj_y ? n * d->k + k : k * d->n + n, wide) - d->rhs_zero_point;
    if (wide) {
      acc64 += (int64_t)x * y;
    } else {
      acc32 += x * y;
    }
  }
  return wide ? acc64 : acc32;
}

/* The eval over int8 (wide = 0) or int16 (wide = 1) tensors; `wide` is a constant at each call. */
static inline tfl_status batch_matmul_run(tfl_context *ctx, const tfl_node *node, int wide) {
  const tfl_tensor *lhs = tfl_node_input(ctx, node, 0);
  const tfl_tensor *rhs = tfl_node_input(ctx, node, 1);
  const tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t es = wide ? 2 : 1;
  const uint8_t *a = (const uint8_t *)lhs->data;
  const uint8_t *b = (const uint8_t *)rhs->data;
  uint8_t *o = (uint8_t *)out->data;
  const int32_t qmax = wide ? 32767 : 127;
  const int32_t qmin = -qmax - 1;
  const int32_t rank = (int32_t)out->dims_count;
  const int32_t nbatch = rank - 2;
  int32_t lhs_stride[TFL_BMM_MAX_RANK]; /* per batch dim; 0 where the operand repeats */
  int32_t rhs_stride[TFL_BMM_MAX_RANK];
  int32_t idx[TFL_BMM_MAX_RANK];
  int32_t batches = 1;
  int32_t lhs_size;
  int32_t rhs_size;
  int32_t lhs_off = 0;
  int32_t rhs_off = 0;
  int32_t t;
  int32_t i;
  tfl_batch_matmul_data d;
  memcpy(&d, node->data, sizeof d);
  lhs_size = d.m * d.k;
  rhs_size = d.k * d.n;
  for (i = nbatch - 1; i >= 0; --i) {
    lhs_stride[i] = bmm_dim(lhs, rank, i) == 1 ? 0 : lhs_size;
    rhs_stride[i] = bmm_dim(rhs, rank, i) == 1 ? 0 : rhs_size;
    lhs_size *= bmm_dim(lhs, rank, i);
    rhs_size *= bmm_dim(rhs, rank, i);
    batches *= out->dims[i];
  }
  memset(idx, 0, sizeof idx);
  for (t = 0; t < batches; ++t) {
    const uint8_t *pa = a + (size_t)lhs_off * (size_t)es;
    const uint8_t *pb = b + (size_t)rhs_off * (size_t)es;
    int32_t m, n;
    for (m = 0; m < d.m; ++m) {
      for (n = 0; n < d.n; ++n) {
        const int64_t acc = bmm_dot(&d, pa, pb, m, n, wide);
        int64_t r; /* a requantized sum near INT32_MIN plus the zero point stays defined */
        r = (wide ? (int64_t)tfl_requantize_int64(acc, d.multiplier, d.shift)
                  : (int64_t)tfl_multiply_by_quantized_multiplier((int32_t)acc, d.multiplier,
                                                                  d.shift)) +
            d.output_zero_point;
        r = r < qmin ? qmin : (r > qmax ? qmax : r);
        if (wide) {
          memcpy(o, &(int16_t){(int16_t)r}, 2);
        } else {
          *o = (uint8_t)(int8_t)r;
        }
        o += es;
      }
    }
    for (i = nbatch - 1; i >= 0; --i) { /* next batch: odometer over the output's batch dims */
      lhs_off += lhs_stride[i];
      rhs_off += rhs_stride[i];
      if (++idx[i] < out->dims[i]) break;
      lhs_off -= lhs_stride[i] * out->dims[i];
      rhs_off -= rhs_stride[i] * out->dims[i];
      idx[i] = 0;
    }
  }
  return TFL_OK;
}

static tfl_status batch_matmul_eval(tfl_context *ctx, tfl_node *node) {
  return batch_matmul_run(ctx, node, 0);
}
static tfl_status batch_matmul_eval16(tfl_context *ctx, tfl_node *node) {
  return batch_matmul_run(ctx, node, 1);
}

TFL_DEFINE_KERNEL(batch_matmul, 126, "BATCH_MATMUL", batch_matmul_prepare, batch_matmul_eval);
