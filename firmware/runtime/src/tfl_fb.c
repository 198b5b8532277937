/* Defensive FlatBuffers reader (see tfl_fb.h). Layout facts used: a table starts with an int32
 * offset back to its vtable (vtable = table - value); a vtable is uint16 vtable size, uint16
 * inline table size, then one uint16 offset per field (0 = absent); offset fields hold a uint32
 * counted from the field's own position; a vector is a uint32 length followed by elements. */
#include "tfl_fb.h"

#include <string.h>

uint16_t tfl_fb_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

uint32_t tfl_fb_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int32_t tfl_fb_i32(const uint8_t *p) {
  uint32_t u = tfl_fb_u32(p);
  int32_t v;
  memcpy(&v, &u, sizeof v);
  return v;
}

int tfl_fb_in_bounds(const tfl_fb *fb, uint32_t pos, uint32_t n) {
  return pos <= fb->size && n <= fb->size - pos;
}

tfl_status tfl_fb_check_table(const tfl_fb *fb, uint32_t table) {
  if (table == 0 || !tfl_fb_in_bounds(fb, table, 4)) return TFL_ERR_MODEL_TRUNCATED;
  int32_t back = tfl_fb_i32(fb->buf + table);
  /* vtable = table - back, computed in 64 bits so neither direction can wrap. */
  int64_t vt = (int64_t)table - (int64_t)back;
  if (vt < 0 || vt > (int64_t)fb->size) return TFL_ERR_MODEL_TRUNCATED;
  uint32_t vtable = (uint32_t)vt;
  if (!tfl_fb_in_bounds(fb, vtable, 4)) return TFL_ERR_MODEL_TRUNCATED;
  uint16_t vt_size = tfl_fb_u16(fb->buf + vtable);
  uint16_t tb_size = tfl_fb_u16(fb->buf + vtable + 2);
  if (vt_size < 4 || (vt_size & 1u) != 0 || tb_size < 4) return TFL_ERR_MODEL_INVALID;
  if (!tfl_fb_in_bounds(fb, vtable, vt_size)) return TFL_ERR_MODEL_TRUNCATED;
  if (!tfl_fb_in_bounds(fb, table, tb_size)) return TFL_ERR_MODEL_TRUNCATED;
  return TFL_OK;
}

tfl_status tfl_fb_root(const tfl_fb *fb, const char *ident, uint32_t *table) {
  if (fb == NULL || fb->buf == NULL || table == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (!tfl_fb_in_bounds(fb, 0, 8)) return TFL_ERR_MODEL_TRUNCATED;
  if (ident != NULL && memcmp(fb->buf + 4, ident, 4) != 0) return TFL_ERR_MODEL_IDENTIFIER;
  uint32_t root = tfl_fb_u32(fb->buf);
  TFL_ENSURE(tfl_fb_check_table(fb, root));
  *table = root;
  return TFL_OK;
}

tfl_status tfl_fb_field(const tfl_fb *fb, uint32_t table, int field, uint32_t width,
                        uint32_t *pos) {
  *pos = 0;
  if (field < 0 || field > 1000) return TFL_ERR_BAD_ARGUMENT;
  TFL_ENSURE(tfl_fb_check_table(fb, table));
  uint32_t vtable = (uint32_t)((int64_t)table - (int64_t)tfl_fb_i32(fb->buf + table));
  uint16_t vt_size = tfl_fb_u16(fb->buf + vtable);
  uint16_t tb_size = tfl_fb_u16(fb->buf + vtable + 2);
  uint32_t entry = 4u + 2u * (uint32_t)field;
  if (entry + 2u > vt_size) return TFL_OK; /* field newer than the writer: absent */
  uint16_t off = tfl_fb_u16(fb->buf + vtable + entry);
  if (off == 0) return TFL_OK;
  if (off < 4 || width > tb_size || off > tb_size - width) return TFL_ERR_MODEL_INVALID;
  *pos = table + off; /* table + tb_size is in bounds, so this cannot wrap */
  return TFL_OK;
}

tfl_status tfl_fb_get_u8(const tfl_fb *fb, uint32_t table, int field, uint8_t dflt, uint8_t *out) {
  uint32_t pos;
  TFL_ENSURE(tfl_fb_field(fb, table, field, 1, &pos));
  *out = pos ? fb->buf[pos] : dflt;
  return TFL_OK;
}

tfl_status tfl_fb_get_i32(const tfl_fb *fb, uint32_t table, int field, int32_t dflt, int32_t *out) {
  uint32_t pos;
  TFL_ENSURE(tfl_fb_field(fb, table, field, 4, &pos));
  *out = pos ? tfl_fb_i32(fb->buf + pos) : dflt;
  return TFL_OK;
}

tfl_status tfl_fb_get_u64(const tfl_fb *fb, uint32_t table, int field, uint64_t dflt,
                          uint64_t *out) {
  uint32_t pos;
  TFL_ENSURE(tfl_fb_field(fb, table, field, 8, &pos));
  if (pos == 0) {
    *out = dflt;
  } else {
    *out = (uint64_t)tfl_fb_u32(fb->buf + pos) | ((uint64_t)tfl_fb_u32(fb->buf + pos + 4) << 32);
  }
  return TFL_OK;
}

/* Position an offset field points to (unchecked target), 0 when absent. */
TFL_MUST_CHECK static tfl_status follow(const tfl_fb *fb, uint32_t table, int field,
                                        uint32_t *target) {
  uint32_t pos;
  tfl_status s = tfl_fb_field(fb, table, field, 4, &pos);
  *target = 0;
  if (s != TFL_OK || pos == 0) return s;
  uint32_t rel = tfl_fb_u32(fb->buf + pos);
  if (rel == 0) return TFL_ERR_MODEL_INVALID;
  if (rel > fb->size - pos) return TFL_ERR_MODEL_TRUNCATED;
  *target = pos + rel;
  return TFL_OK;
}

tfl_status tfl_fb_table(const tfl_fb *fb, uint32_t table, int field, uint32_t *sub) {
  uint32_t target;
  tfl_status s = follow(fb, table, field, &target);
  *sub = 0;
  if (s != TFL_OK || target == 0) return s;
  TFL_ENSURE(tfl_fb_check_table(fb, target));
  *sub = target;
  return TFL_OK;
}

tfl_status tfl_fb_vector(const tfl_fb *fb, uint32_t table, int field, uint32_t elem, uint32_t *data,
                         uint32_t *len) {
  uint32_t target;
  tfl_status s = follow(fb, table, field, &target);
  *data = 0;
  *len = 0;
  if (s != TFL_OK || target == 0) return s;
  if (!tfl_fb_in_bounds(fb, target, 4)) return TFL_ERR_MODEL_TRUNCATED;
  uint32_t n = tfl_fb_u32(fb->buf + target);
  uint32_t room = fb->size - target - 4u;
  if (elem != 0 && n > room / elem) return TFL_ERR_MODEL_TRUNCATED;
  *data = target + 4u;
  *len = n;
  return TFL_OK;
}

tfl_status tfl_fb_vector_table(const tfl_fb *fb, uint32_t data, uint32_t len, uint32_t i,
                               uint32_t *table) {
  *table = 0;
  if (i >= len) return TFL_ERR_MODEL_INVALID;
  uint32_t pos = data + 4u * i; /* the vector was bounds-checked with elem = 4 */
  uint32_t rel = tfl_fb_u32(fb->buf + pos);
  if (rel == 0) return TFL_ERR_MODEL_INVALID;
  if (rel > fb->size - pos) return TFL_ERR_MODEL_TRUNCATED;
  TFL_ENSURE(tfl_fb_check_table(fb, pos + rel));
  *table = pos + rel;
  return TFL_OK;
}
