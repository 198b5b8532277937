/* NumPy-style broadcast reads (see the header). */
#include "tfl_kernel_expand.h"

int tfl_expand_ok(const tfl_tensor *in, const tfl_tensor *out) {
  const int32_t lead = (int32_t)out->dims_count - (int32_t)in->dims_count;
  int32_t d;
  if (lead < 0) return 0;
  for (d = 0; d < (int32_t)in->dims_count; ++d)
    if (in->dims[d] != 1 && in->dims[d] != out->dims[lead + d]) return 0;
  return 1;
}

void tfl_expand_strides(const tfl_tensor *in, const tfl_tensor *out, int32_t *strides) {
  const int32_t lead = (int32_t)out->dims_count - (int32_t)in->dims_count;
  int32_t stride = 1;
  int32_t d;
  for (d = (int32_t)out->dims_count - 1; d >= 0; --d) {
    const int32_t k = d - lead;
    const int32_t dim = k >= 0 ? in->dims[k] : 1;
    strides[d] = dim == 1 ? 0 : stride;
    stride *= dim;
  }
}

void tfl_expand_next(const tfl_tensor *out, int32_t *idx, int32_t count,
                     int32_t strides[][TFL_MAX_DIMS], int32_t *offsets) {
  int32_t d;
  int32_t k;
  for (d = (int32_t)out->dims_count - 1; d >= 0; --d) {
    if (++idx[d] < out->dims[d]) {
      for (k = 0; k < count; ++k) offsets[k] += strides[k][d];
      return;
    }
    idx[d] = 0;
    for (k = 0; k < count; ++k) offsets[k] -= strides[k][d] * (out->dims[d] - 1);
  }
}
