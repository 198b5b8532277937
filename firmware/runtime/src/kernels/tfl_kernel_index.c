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
