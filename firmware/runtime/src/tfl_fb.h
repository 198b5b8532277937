/* Private to the runtime: a defensive reader for the subset of the FlatBuffers binary format the
 * TFLite schema uses. Every function checks the position it reads against the buffer size with
 * overflow-safe arithmetic and reports TFL_ERR_MODEL_TRUNCATED / TFL_ERR_MODEL_INVALID. */
#ifndef TFL_FB_H
#define TFL_FB_H

#include <stdint.h>

#include "tfl_status.h"

typedef struct tfl_fb {
  const uint8_t *buf;
  uint32_t size;
} tfl_fb;

/* Little-endian loads at an already-checked position. */
uint16_t tfl_fb_u16(const uint8_t *p);
uint32_t tfl_fb_u32(const uint8_t *p);
int32_t tfl_fb_i32(const uint8_t *p);

/* 1 when [pos, pos + n) lies inside the buffer. */
int tfl_fb_in_bounds(const tfl_fb *fb, uint32_t pos, uint32_t n);

/* Validates the table at `table` (its vtable and inline size). */
TFL_MUST_CHECK tfl_status tfl_fb_check_table(const tfl_fb *fb, uint32_t table);
/* Root table position; also checks the 4-byte file identifier when ident != NULL. */
TFL_MUST_CHECK tfl_status tfl_fb_root(const tfl_fb *fb, const char *ident, uint32_t *table);
/* Position of an inline field of `width` bytes, 0 when absent. Table must be checked. */
TFL_MUST_CHECK tfl_status tfl_fb_field(const tfl_fb *fb, uint32_t table, int field, uint32_t width,
                                       uint32_t *pos);
/* Scalar fields with defaults. */
TFL_MUST_CHECK tfl_status tfl_fb_get_u8(const tfl_fb *fb, uint32_t table, int field, uint8_t dflt,
                                        uint8_t *out);
TFL_MUST_CHECK tfl_status tfl_fb_get_i32(const tfl_fb *fb, uint32_t table, int field, int32_t dflt,
                                         int32_t *out);
TFL_MUST_CHECK tfl_status tfl_fb_get_u64(const tfl_fb *fb, uint32_t table, int field, uint64_t dflt,
                                         uint64_t *out);
/* Follows an offset field to a sub-table (checked); *sub = 0 when absent. */
TFL_MUST_CHECK tfl_status tfl_fb_table(const tfl_fb *fb, uint32_t table, int field, uint32_t *sub);
/* Follows an offset field to a vector of `len` elements of `elem` bytes starting at *data;
 * *len = 0 and *data = 0 when absent. */
TFL_MUST_CHECK tfl_status tfl_fb_vector(const tfl_fb *fb, uint32_t table, int field, uint32_t elem,
                                        uint32_t *data, uint32_t *len);
/* Element i of a vector of tables (checked table position). */
TFL_MUST_CHECK tfl_status tfl_fb_vector_table(const tfl_fb *fb, uint32_t data, uint32_t len,
                                              uint32_t i, uint32_t *table);

#endif
