/* Compressed constant weights: check and decode (see tfl_kernel_wz.h). */
#include "tfl_kernel_wz.h"

#include <string.h>

static uint32_t wz_u32(const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint32_t v;
  memcpy(&v, p, 4); /* one load where unaligned word loads are allowed */
  return v;
#else
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
#endif
}

/* The header fields every function needs. */
typedef struct {
  uint8_t scheme, bits, axis;
  uint32_t rows, count; /* count: tables (palette) or non-zero values (sparse) */
  uint32_t row_len;     /* elements per row */
} wz_header;

static wz_header wz_read(const uint8_t *b, uint32_t elements) {
  wz_header h;
  h.scheme = b[4];
  h.bits = b[5];
  h.axis = b[6];
  h.rows = wz_u32(b + 8);
  h.count = wz_u32(b + 12);
  h.row_len = h.rows != 0 ? elements / h.rows : 0;
  return h;
}

static uint32_t popcount8(uint32_t v) {
  uint32_t n = 0;
  for (; v != 0; v &= v - 1) ++n;
  return n;
}

tfl_status tfl_wz_check(const uint8_t *blob, uint32_t len, const tfl_tensor *t) {
  if (blob == NULL || len < TFL_WZ_HEADER || memcmp(blob, "TFZ1", 4) != 0) {
    return TFL_ERR_BAD_BUFFER;
  }
  if (t->type != TFL_TYPE_INT8 || t->dims_count == 0 || t->bytes <= 0) return TFL_ERR_BAD_BUFFER;
  const uint32_t elements = (uint32_t)t->bytes;
  if (len >= elements) return TFL_ERR_BAD_BUFFER; /* a blob is shorter than the tensor */
  const wz_header h = wz_read(blob, elements);
  if (blob[7] != 0 || h.rows == 0 || h.rows > elements || elements % h.rows != 0) {
    return TFL_ERR_BAD_BUFFER;
  }
  const uint64_t rows = h.rows, row_len = h.row_len;
  if (h.scheme == TFL_WZ_PALETTE) {
    if (h.bits < 1 || h.bits > 8 || h.count == 0) return TFL_ERR_BAD_BUFFER;
    if (h.axis == 0) {
      if (h.count != 1 && h.count != h.rows) return TFL_ERR_BAD_BUFFER;
    } else if (h.axis == 1) {
      if (h.rows != 1 || h.count != (uint32_t)t->dims[t->dims_count - 1]) return TFL_ERR_BAD_BUFFER;
    } else {
      return TFL_ERR_BAD_BUFFER;
    }
    const uint64_t need =
        TFL_WZ_HEADER + ((uint64_t)h.count << h.bits) + rows * ((row_len * h.bits + 7u) / 8u);
    return need == len ? TFL_OK : TFL_ERR_BAD_BUFFER;
  }
  if (h.scheme != TFL_WZ_SPARSE || h.bits != 0 || h.axis != 0 || h.count > elements) {
    return TFL_ERR_BAD_BUFFER;
  }
  const uint64_t mask_row = (row_len + 7u) / 8u;
  const uint64_t need = TFL_WZ_HEADER + 4u * rows + rows * mask_row + h.count;
  if (need != len) return TFL_ERR_BAD_BUFFER;
  /* every row's mask holds exactly as many set bits as its run of values, none in the padding */
  const uint8_t *starts = blob + TFL_WZ_HEADER, *mask = starts + 4u * rows;
  const uint32_t tail = h.row_len & 7u;
  uint32_t expect = 0;
  for (uint32_t r = 0; r < h.rows; ++r) {
    if (wz_u32(starts + 4u * r) != expect) return TFL_ERR_BAD_BUFFER;
    uint32_t set = 0;
    const uint8_t *m = mask + (uint64_t)r * mask_row;
    for (uint32_t j = 0; j < (uint32_t)mask_row; ++j) set += popcount8(m[j]);
    if (tail != 0 && (m[mask_row - 1] >> tail) != 0) return TFL_ERR_BAD_BUFFER;
    if (set > h.count - expect) return TFL_ERR_BAD_BUFFER;
    expect += set;
  }
  return expect == h.count ? TFL_OK : TFL_ERR_BAD_BUFFER;
}

int32_t tfl_wz_rows(const tfl_tensor *w) { return (int32_t)wz_u32((const uint8_t *)w->data + 8); }

/* n indices of `bits` bits from src (LSB first), each through its table: table + (e % cycle) *
 * 2^bits for cycle > 0 (a table per element of the last dimension), else table. */
static void palette_row(const uint8_t *src, uint32_t bits, const int8_t *table, uint32_t cycle,
                        uint32_t n, int8_t *dst) {
  if (bits == 4 && cycle == 0) { /* the common clustered case: two indices per byte */
    uint32_t i = 0;
    for (; i + 2 <= n; i += 2) {
      const uint32_t v = *src++;
      dst[i] = table[v & 15u];
      dst[i + 1] = table[v >> 4];
    }
    if (i < n) dst[i] = table[*src & 15u];
    return;
  }
  const uint32_t mask = (1u << bits) - 1u;
  uint32_t acc = 0, have = 0, c = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (have < bits) {
      acc |= (uint32_t)*src++ << have;
      have += 8;
    }
    const uint32_t v = acc & mask;
    acc >>= bits;
    have -= bits;
    if (cycle != 0) {
      dst[i] = table[(c << bits) + v];
      if (++c == cycle) c = 0;
    } else {
      dst[i] = table[v];
    }
  }
}

/* Index of the lowest set bit of m != 0. */
#if defined(__GNUC__)
#define WZ_CTZ(m) ((uint32_t)__builtin_ctz(m))
#else
static uint32_t wz_ctz(uint32_t m) {
  uint32_t n = 0;
  for (; (m & 1u) == 0; m >>= 1) ++n;
  return n;
}
#define WZ_CTZ(m) wz_ctz(m)
#endif

/* One row of the sparse form: zeros, then the values at the mask's set bits. */
static void sparse_row(const uint8_t *mask, const int8_t *values, uint32_t n, int8_t *dst) {
  memset(dst, 0, n);
  for (uint32_t j = 0; j < n; j += 8) {
    for (uint32_t m = *mask++; m != 0; m &= m - 1u) dst[j + WZ_CTZ(m)] = *values++;
  }
}

int tfl_wz_sparse_view(const tfl_tensor *w, tfl_wz_sparse *view) {
  const uint8_t *b = (const uint8_t *)w->data;
  const wz_header h = wz_read(b, (uint32_t)w->bytes);
  if (h.scheme != TFL_WZ_SPARSE) return 0;
  view->starts = b + TFL_WZ_HEADER;
  view->mask_row = (h.row_len + 7u) / 8u;
  view->mask = view->starts + 4u * h.rows;
  view->values = (const int8_t *)(view->mask + h.rows * view->mask_row);
  return 1;
}

uint32_t tfl_wz_sparse_dot(const tfl_wz_sparse *view, int32_t row, const int8_t *x,
                           int32_t x_offset) {
  const uint8_t *mask = view->mask + (uint32_t)row * view->mask_row;
  const int8_t *v = view->values + wz_u32(view->starts + 4u * (uint32_t)row);
  uint32_t acc = 0, vsum = 0;
  /* sum (x + offset) * w = sum x * w + offset * sum w, wrapping like every accumulator */
  uint32_t j = 0;
  if ((view->mask_row & 3u) == 0) { /* 32 mask bits per load */
    for (; j < view->mask_row; j += 4, x += 32) {
      for (uint32_t m = wz_u32(mask + j); m != 0; m &= m - 1u) {
        const int32_t w = *v++;
        acc += (uint32_t)(x[WZ_CTZ(m)] * w);
        vsum += (uint32_t)w;
      }
    }
  }
  for (; j < view->mask_row; ++j, x += 8) {
    for (uint32_t m = mask[j]; m != 0; m &= m - 1u) {
      const int32_t w = *v++;
      acc += (uint32_t)(x[WZ_CTZ(m)] * w);
      vsum += (uint32_t)w;
    }
  }
  return acc + (uint32_t)x_offset * vsum;
}

void tfl_wz_decode_rows(const tfl_tensor *w, int32_t row0, int32_t count, int8_t *dst) {
  const uint8_t *b = (const uint8_t *)w->data;
  const wz_header h = wz_read(b, (uint32_t)w->bytes);
  const uint8_t *body = b + TFL_WZ_HEADER;
  if (h.scheme == TFL_WZ_PALETTE) {
    const int8_t *tables = (const int8_t *)body;
    const uint32_t row_bytes = (h.row_len * h.bits + 7u) / 8u;
    const uint8_t *idx = body + (h.count << h.bits);
    for (int32_t r = row0; r < row0 + count; ++r, dst += h.row_len) {
      const int8_t *table = h.axis == 0 && h.count > 1 ? tables + ((uint32_t)r << h.bits) : tables;
      palette_row(idx + (uint32_t)r * row_bytes, h.bits, table, h.axis == 1 ? h.count : 0,
                  h.row_len, dst);
    }
    return;
  }
  const uint32_t mask_row = (h.row_len + 7u) / 8u;
  const uint8_t *mask = body + 4u * h.rows;
  const int8_t *values = (const int8_t *)(mask + h.rows * mask_row);
  for (int32_t r = row0; r < row0 + count; ++r, dst += h.row_len) {
    sparse_row(mask + (uint32_t)r * mask_row, values + wz_u32(body + 4u * (uint32_t)r), h.row_len,
               dst);
  }
}

const uint8_t *tfl_wz_pairs4(const tfl_tensor *w, uint32_t pairs[256]) {
  const uint8_t *b = (const uint8_t *)w->data;
  const wz_header h = wz_read(b, (uint32_t)w->bytes);
  if (h.scheme != TFL_WZ_PALETTE || h.bits != 4 || h.count != 1 || (h.row_len & 1u) != 0) {
    return NULL;
  }
  const int8_t *table = (const int8_t *)(b + TFL_WZ_HEADER);
  for (uint32_t v = 0; v < 256; ++v) {
    pairs[v] = (uint32_t)(uint16_t)table[v & 15u] | ((uint32_t)(uint16_t)table[v >> 4] << 16);
  }
  return b + TFL_WZ_HEADER + 16;
}

#if TFL_MAC_DSP
TFL_MAC_NOINLINE void tfl_wz_dot4_pairs(const uint32_t *xp, const uint8_t *idx, int32_t stride,
                                        int32_t n, const uint32_t *pairs, uint32_t acc[4]) {
  /* Written in assembly (the compiler's version spills its pair operands): two activation words
   * per pass (LDRD), 27 instructions per 16 MACs. Rows 0/1 are read through ia (row 1 at
   * ia + stride), rows 2/3 through ib. n is even (the caller's depth is a multiple of 4). */
  const uint8_t *ia = idx, *ib = idx + 2 * stride;
  uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  uint32_t x, y, t;
  int32_t pairs_left = n >> 1;
  if (pairs_left > 0) {
    __asm__ volatile(
        "1:\n\t"
        "ldrd   %[x], %[y], [%[xp]], #8\n\t"
        "ldrb   %[t], [%[ia], %[s]]\n\t"
        "ldr    %[t], [%[pt], %[t], lsl #2]\n\t"
        "smlad  %[a1], %[x], %[t], %[a1]\n\t"
        "ldrb   %[t], [%[ia]], #1\n\t"
        "ldr    %[t], [%[pt], %[t], lsl #2]\n\t"
        "smlad  %[a0], %[x], %[t], %[a0]\n\t"
        "ldrb   %[t], [%[ib], %[s]]\n\t"
        "ldr    %[t], [%[pt], %[t], lsl #2]\n\t"
        "smlad  %[a3], %[x], %[t], %[a3]\n\t"
        "ldrb   %[t], [%[ib]], #1\n\t"
        "ldr    %[t], [%[pt], %[t], lsl #2]\n\t"
        "smlad  %[a2], %[x], %[t], %[a2]\n\t"
        "ldrb   %[t], [%[ia], %[s]]\n\t"
        "ldr    %[t], [%[pt], %[t], lsl #2]\n\t"
        "smlad  %[a1], %[y], %[t], %[a1]\n\t"
        "ldrb   %[t], [%[ia]], #1\n\t"
        "ldr    %[t], [%[pt], %[t], lsl #2]\n\t"
        "smlad  %[a0], %[y], %[t], %[a0]\n\t"
        "ldrb   %[t], [%[ib], %[s]]\n\t"
        "ldr    %[t], [%[pt], %[t], lsl #2]\n\t"
        "smlad  %[a3], %[y], %[t], %[a3]\n\t"
        "ldrb   %[t], [%[ib]], #1\n\t"
        "ldr    %[t], [%[pt], %[t], lsl #2]\n\t"
        "smlad  %[a2], %[y], %[t], %[a2]\n\t"
        "subs   %[n], %[n], #1\n\t"
        "bne    1b\n\t"
        : [xp] "+r"(xp), [ia] "+r"(ia), [ib] "+r"(ib), [n] "+r"(pairs_left), [a0] "+r"(a0),
          [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "=&r"(x), [y] "=&r"(y), [t] "=&r"(t)
        : [s] "r"(stride), [pt] "r"(pairs)
        : "cc", "memory");
  }
  if (n & 1) { /* an odd byte count (not taken by fc_eval_pairs): the last one in C */
    const uint32_t v = *xp;
    a0 = tfl_smlad(v, pairs[ia[0]], a0);
    a1 = tfl_smlad(v, pairs[ia[stride]], a1);
    a2 = tfl_smlad(v, pairs[ib[0]], a2);
    a3 = tfl_smlad(v, pairs[ib[stride]], a3);
  }
  tfl_mac_store4(acc, a0, a1, a2, a3);
}

TFL_MAC_NOINLINE uint32_t tfl_wz_dot1_pairs(const uint32_t *xp, const uint8_t *idx, int32_t n,
                                            const uint32_t *pairs) {
  uint32_t a = 0;
  for (int32_t k = 0; k < n; ++k) a = tfl_smlad(xp[k], pairs[idx[k]], a);
  return a;
}
#endif
