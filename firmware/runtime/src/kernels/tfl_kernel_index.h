/* Constant int32/int64 index tensors of the data-movement kernels (SPLIT's axis, SPLIT_V's
 * sizes, TRANSPOSE's perm): validated once in prepare, read element by element. */
#ifndef TFL_KERNEL_INDEX_H
#define TFL_KERNEL_INDEX_H

#include "tfl_kernel.h"

/* Element i of a constant int32 or int64 index tensor (model bytes may be unaligned). */
int64_t tfl_index_at(const tfl_tensor *t, int32_t i);
/* 1 when t is a constant int32/int64 tensor whose byte size matches its element count. */
int tfl_index_ok(const tfl_tensor *t);
/* Element i of int32 index bytes in eval (GATHER's positions, GATHER_ND's coordinates; the
 * prepare checked the type and size; constants may be unaligned in the model). */
static inline int32_t tfl_index_i32(const void *bytes, size_t i) {
  int32_t v;
  memcpy(&v, (const uint8_t *)bytes + i * 4u, 4);
  return v;
}

/* Copies a strided view of src to dst in row-major order (TRANSPOSE, STRIDED_SLICE): the
 * output has dims count[0..rank-1] (1 <= rank <= TFL_MAX_DIMS) and its element (i_0, ...)
 * is src element base + sum i_k * stride[k] (strides may be negative; the caller's prepare
 * proved every such index inside src). es: element bytes, 1 (int8), 2 (int16) or 4 (int32).
 * Nothing for an empty output. */
void tfl_strided_copy(const void *src, void *dst, int32_t rank, const int32_t *count,
                      const int32_t *stride, int32_t base, int32_t es);

#endif
