/* Reductions over constant axes (see the header). */
#include "tfl_kernel_reduce.h"

#include "tfl_kernel_index.h"

TFL_OP_DATA_FITS(tfl_reduce_shape);

tfl_status tfl_reduce_prepare(tfl_context *ctx, const tfl_node *node, tfl_reduce_shape *shape,
                              const tfl_tensor **in_out, const tfl_tensor **out_out) {
  const tfl_tensor *in, *axes, *out;
  int32_t rank;
  int keep_dims = 0;
  int32_t axis_count;
  int32_t expected_rank = 0;
  int32_t i;
  int64_t count = 1;
  tfl_status st;
  in = tfl_node_input(ctx, node, 0);
  axes = tfl_node_input(ctx, node, 1);
  out = tfl_node_output(ctx, node, 0);
  if (in == NULL || axes == NULL || out == NULL) return TFL_ERR_MODEL_INVALID;
  /* int8, or int16 (16x8: MEAN only; the other reductions refuse it) */
  if ((in->type != TFL_TYPE_INT8 && !TFL_IS_INT16(in)) || out->type != in->type ||
      axes->type != TFL_TYPE_INT32) {
    return TFL_ERR_UNSUPPORTED_TYPE;
  }
  *in_out = in;
  *out_out = out;
  rank = (int32_t)in->dims_count;
  if (!tfl_index_ok(axes)) return TFL_ERR_BAD_BUFFER;
  if (in->quant_count < 1 || out->quant_count < 1) return TFL_ERR_BAD_QUANTIZATION;
  st = tfl_option_bool(ctx, node, 0, 0, &keep_dims); /* ReducerOptions.keep_dims */
  if (st != TFL_OK) return st;
  shape->reduced_mask = 0;
  axis_count = tfl_tensor_elements(axes);
  for (i = 0; i < axis_count; ++i) {
    int64_t axis = tfl_index_at(axes, i);
    if (axis < -rank || axis >= rank) return TFL_ERR_BAD_SHAPE;
    if (axis < 0) axis += rank;
    shape->reduced_mask |= 1 << axis;
  }
  for (i = 0; i < rank; ++i) {
    if ((shape->reduced_mask >> i) & 1) {
      count *= in->dims[i];
      if (count > INT32_MAX) return TFL_ERR_BAD_SHAPE;
      if (!keep_dims) continue;
      if (expected_rank >= (int32_t)out->dims_count || out->dims[expected_rank] != 1)
        return TFL_ERR_BAD_SHAPE;
    } else if (expected_rank >= (int32_t)out->dims_count ||
               out->dims[expected_rank] != in->dims[i]) {
      return TFL_ERR_BAD_SHAPE;
    }
    ++expected_rank;
  }
  if (expected_rank != (int32_t)out->dims_count) return TFL_ERR_BAD_SHAPE;
  shape->count = (int32_t)count;
  return TFL_OK;
}

/* The walk, inlined into each caller with `wide` a constant (int16 elements, else int8). */
#if defined(__GNUC__)
#define REDUCE_INLINE static inline __attribute__((always_inline))
#else
#define REDUCE_INLINE static inline
#endif

REDUCE_INLINE void reduce_walk(const tfl_tensor *in, const tfl_reduce_shape *shape,
                               tfl_reduce_kind kind, tfl_reduce_finish finish, const void *user,
                               void *out, int32_t out_count, int wide) {
#define REDUCE_AT(p) (wide ? ((const int16_t *)in->data)[p] : ((const int8_t *)in->data)[p])
  /* input dims grouped into runs of kept / reduced dims (size-1 dims dropped), innermost first */
  int32_t kept_dims[TFL_MAX_DIMS], kept_strides[TFL_MAX_DIMS], kept_idx[TFL_MAX_DIMS];
  int32_t red_dims[TFL_MAX_DIMS], red_strides[TFL_MAX_DIMS], red_idx[TFL_MAX_DIMS];
  int32_t kept_n = 0;
  int32_t red_n = 0;
  int32_t stride = 1;
  int32_t prev = -1; /* 0: last run was kept, 1: reduced */
  int32_t base = 0;
  int32_t o;
  int32_t i;
  for (i = (int32_t)in->dims_count - 1; i >= 0; --i) {
    const int32_t dim = in->dims[i];
    const int32_t reduced = (shape->reduced_mask >> i) & 1;
    if (dim != 1) {
      if (reduced == prev) {
        if (reduced)
          red_dims[red_n - 1] *= dim;
        else
          kept_dims[kept_n - 1] *= dim;
      } else if (reduced) {
        red_dims[red_n] = dim;
        red_strides[red_n++] = stride;
      } else {
        kept_dims[kept_n] = dim;
        kept_strides[kept_n++] = stride;
      }
      prev = reduced;
    }
    stride *= dim;
  }
  memset(kept_idx, 0, sizeof kept_idx);
  for (o = 0; o < out_count; ++o) {
    int32_t acc = kind == TFL_REDUCE_SUM ? 0 : REDUCE_AT(base);
    int32_t off = base;
    int32_t j;
    memset(red_idx, 0, sizeof red_idx);
    for (;;) { /* red_*[0]: the innermost run, a strided loop; the other runs an odometer */
      const int32_t run = red_n > 0 ? red_dims[0] : 1;
      const int32_t step = red_n > 0 ? red_strides[0] : 0;
      int32_t e;
      int32_t p = off;
      if (kind == TFL_REDUCE_SUM) {
        uint32_t sum = (uint32_t)acc; /* wraps like the reference's int32 accumulator */
        for (e = 0; e < run; ++e, p += step) sum += (uint32_t)(int32_t)REDUCE_AT(p);
        acc = (int32_t)sum;
      } else if (kind == TFL_REDUCE_MAX) {
        for (e = 0; e < run; ++e, p += step) acc = tfl_max(acc, REDUCE_AT(p));
      } else {
        for (e = 0; e < run; ++e, p += step) acc = tfl_min(acc, REDUCE_AT(p));
      }
      for (j = 1; j < red_n; ++j) {
        off += red_strides[j];
        if (++red_idx[j] < red_dims[j]) break;
        off -= red_strides[j] * red_dims[j];
        red_idx[j] = 0;
      }
      if (j >= red_n) break;
    }
    if (wide)
      ((int16_t *)out)[o] = (int16_t)finish(acc, user);
    else
      ((int8_t *)out)[o] = (int8_t)finish(acc, user);
    for (j = 0; j < kept_n; ++j) {
      base += kept_strides[j];
      if (++kept_idx[j] < kept_dims[j]) break;
      base -= kept_strides[j] * kept_dims[j];
      kept_idx[j] = 0;
    }
  }
#undef REDUCE_AT
}

void tfl_reduce_int8(const tfl_tensor *in, const tfl_reduce_shape *shape, tfl_reduce_kind kind,
                     tfl_reduce_finish finish, const void *user, int8_t *out, int32_t out_count) {
  reduce_walk(in, shape, kind, finish, user, out, out_count, 0);
}

static void reduce_sum_int16(const tfl_tensor *in, const tfl_reduce_shape *shape,
                             tfl_reduce_finish finish, const void *user, int16_t *out,
                             int32_t out_count) {
  reduce_walk(in, shape, TFL_REDUCE_SUM, finish, user, out, out_count, 1);
}

tfl_status tfl_reduce_sum_eval(tfl_context *ctx, const tfl_node *node, tfl_reduce_finish finish) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t out_count = tfl_tensor_elements(out);
  int32_t params[TFL_OP_DATA_WORDS]; /* a local copy: stores through int8_t* may alias node */
  tfl_reduce_shape shape;
  memcpy(params, node->data, sizeof params);
  memcpy(&shape, params, sizeof shape);
  if (shape.count == 0) {
    memset(out->data, 0, (size_t)out->bytes);
    return TFL_OK;
  }
  if (TFL_IS_INT16(in))
    reduce_sum_int16(in, &shape, finish, params, (int16_t *)out->data, out_count);
  else
    tfl_reduce_int8(in, &shape, TFL_REDUCE_SUM, finish, params, (int8_t *)out->data, out_count);
  return TFL_OK;
}

static int32_t reduce_extreme_finish(int32_t acc, const void *user) {
  (void)user;
  return acc;
}

tfl_status tfl_reduce_extreme_prepare(tfl_context *ctx, tfl_node *node) {
  const tfl_tensor *in, *out;
  tfl_reduce_shape shape;
  TFL_ENSURE(tfl_reduce_prepare(ctx, node, &shape, &in, &out));
  if (in->type != TFL_TYPE_INT8) return TFL_ERR_UNSUPPORTED_TYPE;
  if ((double)in->scale != (double)out->scale || in->zero_point != out->zero_point)
    return TFL_ERR_BAD_QUANTIZATION;
  memcpy(node->data, &shape, sizeof shape);
  return TFL_OK;
}

tfl_status tfl_reduce_extreme_eval(tfl_context *ctx, tfl_node *node, tfl_reduce_kind kind) {
  const tfl_tensor *in = tfl_node_input(ctx, node, 0);
  tfl_tensor *out = tfl_node_output(ctx, node, 0);
  const int32_t out_count = tfl_tensor_elements(out);
  tfl_reduce_shape shape;
  memcpy(&shape, node->data, sizeof shape);
  if (shape.count == 0) {
    memset(out->data, (kind == TFL_REDUCE_MAX ? -128 : 127) & 0xff, (size_t)out_count);
    return TFL_OK;
  }
  tfl_reduce_int8(in, &shape, kind, reduce_extreme_finish, NULL, (int8_t *)out->data, out_count);
  return TFL_OK;
}
