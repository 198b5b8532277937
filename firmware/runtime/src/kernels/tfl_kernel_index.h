/* Constant int32/int64 index tensors of the data-movement kernels (SPLIT's axis, SPLIT_V's
 * sizes, TRANSPOSE's perm): validated once in prepare, read element by element. */
#ifndef TFL_KERNEL_INDEX_H
#define TFL_KERNEL_INDEX_H

#include "tfl_kernel.h"

/* Element i of a constant int32 or int64 index tensor (model bytes may be unaligned). */
int64_t tfl_index_at(const tfl_tensor *t, int32_t i);
/* 1 when t is a constant int32/int64 tensor whose byte size matches its element count. */
int tfl_index_ok(const tfl_tensor *t);

#endif
