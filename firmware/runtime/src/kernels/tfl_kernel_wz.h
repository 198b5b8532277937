/* Compressed constant weights: an int8 weight tensor whose buffer holds a "TFZ1" blob instead of
 * its elements (toolchain/tinyflash/compress.py writes them; docs/compression.md). The reader
 * accepts a blob only as input 1 of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and
 * TRANSPOSE_CONV, after tfl_wz_check; those kernels select a compressed-weight eval once at prepare and decode whole
 * rows (output channels) into a small stack buffer that the unchanged dense loops then read.
 *
 * A blob is always shorter than the dense tensor (a buffer of the tensor's size is its elements).
 * Blob layout (little-endian, no alignment needed):
 *   0  'T' 'F' 'Z' '1'
 *   4  u8 scheme: 1 palette, 2 sparse
 *   5  u8 bits: palette index width 1..8; sparse 0
 *   6  u8 table axis (palette): 0 one table per row (or one for all), 1 table = element % T
 *      (the last dimension, rows = 1); sparse 0
 *   7  u8 0
 *   8  u32 R: rows; the elements are R equal contiguous rows (dims[0] for CONV_2D and
 *      FULLY_CONNECTED, 1 for DEPTHWISE_CONV_2D)
 *   12 u32 palette: T tables; sparse: NZ non-zero values
 *   16 palette: T tables of 2^bits int8 values, then per row ceil(row * bits / 8) bytes of
 *      indices, LSB first
 *      sparse: R u32 starts (row r's first value in the value array; starts[0] = 0), then per
 *      row ceil(row / 8) mask bytes (bit i, LSB first: element i is non-zero; padding bits 0),
 *      then the NZ values */
#ifndef TFL_KERNEL_WZ_H
#define TFL_KERNEL_WZ_H

#include "tfl_kernel.h"

enum { TFL_WZ_HEADER = 16, TFL_WZ_PALETTE = 1, TFL_WZ_SPARSE = 2 };

/* A compressed-weight eval for a kernel object: NULL with TFL_WITH_WZ 0 (still named, so the
 * static eval raises no unused warning, but neither it nor what it calls is linked). */
#define TFL_EVAL_WZ(eval_fn) (TFL_WITH_WZ ? (eval_fn) : NULL)

/* TFL_OK when blob[0 .. len) is a well-formed blob for the int8 tensor t (shape and type set):
 * every decode of it stays inside the blob. TFL_ERR_BAD_BUFFER otherwise. */
TFL_MUST_CHECK tfl_status tfl_wz_check(const uint8_t *blob, uint32_t len, const tfl_tensor *t);

/* Rows of a checked compressed tensor. */
int32_t tfl_wz_rows(const tfl_tensor *w);

/* Decodes rows [row0, row0 + count) of the checked compressed tensor w into dst (count * row
 * length bytes). */
void tfl_wz_decode_rows(const tfl_tensor *w, int32_t row0, int32_t count, int8_t *dst);

/* Rows per pass for a kernel whose rows are row_bytes long: as many as the stack buffer holds,
 * a multiple of 4 when at least 4 fit (the dense loops run four channels per pass). */
static inline int32_t tfl_wz_chunk(int32_t row_bytes) {
  const int32_t n = TFL_WZ_STACK_BYTES / row_bytes;
  return n >= 4 ? n & ~3 : n;
}

#include "tfl_mac.h"

/* A checked sparse blob, for kernels that multiply only its non-zero weights. */
typedef struct {
  const uint8_t *starts, *mask;
  const int8_t *values;
  uint32_t mask_row; /* mask bytes per row */
} tfl_wz_sparse;

/* 1 (and *view set) when w holds a sparse blob. */
int tfl_wz_sparse_view(const tfl_tensor *w, tfl_wz_sparse *view);

/* sum over row `row`'s non-zero weights w[k] of (x[k] + x_offset) * w[k], wrapping. */
uint32_t tfl_wz_sparse_dot(const tfl_wz_sparse *view, int32_t row, const int8_t *x,
                           int32_t x_offset);

/* The index stream of a per-tensor 4-bit palette with even rows (two weights per byte, row r
 * at r * row / 2), with its 256 byte values mapped to weight pairs in pairs[] (low halfword the
 * even weight, high the odd one, both sign-extended int16): NULL for every other blob. */
const uint8_t *tfl_wz_pairs4(const tfl_tensor *w, uint32_t pairs[256]);

#if TFL_MAC_DSP
/* xp: activations as natural int16 pairs (x[2k] + offset, x[2k+1] + offset) per word. */
static inline void tfl_wz_expand_pairs(uint32_t *xp, const int8_t *x, int32_t blocks,
                                       int32_t x_offset) {
  const uint32_t off = tfl_pack_offset(x_offset);
  for (; blocks > 0; --blocks, x += 4) {
    const uint32_t v = tfl_ld32(x);
    const uint32_t even = tfl_sxtab16(off, v), odd = tfl_sxtab16_ror8(off, v);
    *xp++ = (even & 0xFFFFu) | (odd << 16);
    *xp++ = (even >> 16) | (odd & 0xFFFF0000u);
  }
}

/* acc[j] = sum over n index bytes of SMLAD(xp[k], pairs[idx[j * stride + k]]), j = 0..3. */
void tfl_wz_dot4_pairs(const uint32_t *xp, const uint8_t *idx, int32_t stride, int32_t n,
                       const uint32_t *pairs, uint32_t acc[4]);
/* The same for one row. */
uint32_t tfl_wz_dot1_pairs(const uint32_t *xp, const uint8_t *idx, int32_t n,
                           const uint32_t *pairs);
#endif

#endif
