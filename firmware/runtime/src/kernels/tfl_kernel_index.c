/* Constant int32/int64 index tensors (see the header). */
#include "tfl_kernel_index.h"

int64_t tfl_index_at(const tfl_tensor *t, int32_t i) {
  if (t->type == TFL_TYPE_INT64) {
    int64_t v;
    memcpy(&v, (const uint8_t *)t->data + (size_t)i * sizeof(int64_t), sizeof(v));
    return v;
  } else {
    int32_t v;
    memcpy(&v, (const uint8_t *)t->data + (size_t)i * sizeof(int32_t), sizeof(v));
    return v;
  }
}

int tfl_index_ok(const tfl_tensor *t) {
  const int32_t size = t->type == TFL_TYPE_INT64 ? 8 : 4;
  return t->data != NULL && t->is_constant && t->bytes == tfl_tensor_elements(t) * size;
}

void tfl_strided_copy(const void *src, void *dst, int32_t rank, const int32_t *count,
                      const int32_t *stride, int32_t base, int32_t es) {
  const uint8_t *s = (const uint8_t *)src;
  uint8_t *o = (uint8_t *)dst;
  const int32_t last = rank - 1;
  const int32_t n = count[last];
  const int32_t step = stride[last];
  int32_t idx[TFL_MAX_DIMS];
  int32_t off = base;
  int32_t k, i;
  for (k = 0; k < rank; ++k) {
    if (count[k] == 0) return;
    idx[k] = 0;
  }
  for (;;) {
    if (step == 1) {
      memcpy(o, s + (size_t)off * (size_t)es, (size_t)n * (size_t)es);
    } else if (es == 1) {
      for (i = 0; i < n; ++i) o[i] = s[off + i * step];
    } else if (es == 2) {
      for (i = 0; i < n; ++i) memcpy(o + 2 * i, s + (size_t)(off + i * step) * 2u, 2);
    } else {
      for (i = 0; i < n; ++i) memcpy(o + 4 * i, s + (size_t)(off + i * step) * 4u, 4);
    }
    o += (size_t)n * (size_t)es;
    for (k = last - 1; k >= 0; --k) { /* advance the output index over dims 0..last-1 */
      if (idx[k] + 1 < count[k]) {
        ++idx[k];
        off += stride[k];
        break;
      }
      off -= stride[k] * (count[k] - 1); /* back to index 0: an offset inside src */
      idx[k] = 0;
    }
    if (k < 0) return;
  }
}
