/* Batch mutation runner (tests/test_mutation.py): COUNT mutants of one model, each through
 * tfl_model_counts, tfl_init (twice, the second time in exactly arena_used bytes) and two
 * tfl_invoke calls (tests/fuzz/model_case.c), in one process built with ASan + UBSan.
 *
 *   mutate_main MODEL SEED FIRST COUNT
 *
 * Case k (FIRST <= k < FIRST + COUNT) is derived from (SEED, k) alone, so any case can be re-run
 * by itself. Mutation kinds, k % 5:
 *   0 one bit flipped          1 one to four bytes set to random values
 *   2 truncated to a random length in [0, size)
 *   3 a 32-bit word that looks like an offset, length or index (aligned, value < size)
 *     replaced by an extreme value (0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, size, 0, 0x10000, v+4)
 *   4 two to eight bit flips
 * stdout, one line per case after it ran: "<k> <kind> <stage> <status name>" where stage is
 * counts|init|invoke|ran. The mutant lives in a heap block of exactly its size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_case.h"

static uint64_t splitmix(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return NULL;
  }
  long n = ftell(f);
  if (n <= 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  uint8_t *buf = (uint8_t *)malloc((size_t)n);
  if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

static const char *const stage_names[] = {"counts", "init", "invoke", "ran"};

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s MODEL SEED FIRST COUNT\n", argv[0]);
    return 2;
  }
  size_t size = 0;
  uint8_t *model = read_file(argv[1], &size);
  if (model == NULL || size < 8) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  uint64_t seed = strtoull(argv[2], NULL, 10);
  long first = strtol(argv[3], NULL, 10), count = strtol(argv[4], NULL, 10);
  /* aligned words whose value could be an offset, a length or an index */
  size_t word_count = 0;
  uint32_t *words = (uint32_t *)malloc((size / 4u + 1u) * sizeof(uint32_t));
  if (words == NULL) return 2;
  for (size_t p = 0; p + 4 <= size; p += 4) {
    uint32_t v = (uint32_t)model[p] | ((uint32_t)model[p + 1] << 8) |
                 ((uint32_t)model[p + 2] << 16) | ((uint32_t)model[p + 3] << 24);
    if (v != 0 && v < size) words[word_count++] = (uint32_t)p;
  }
  for (long k = first; k < first + count; ++k) {
    uint64_t st = seed * 1000003ull + (uint64_t)k;
    int kind = (int)(k % 5);
    size_t n = size;
    if (kind == 2) n = (size_t)(splitmix(&st) % size);
    uint8_t *m = (uint8_t *)malloc(n > 0 ? n : 1u);
    if (m == NULL) return 2;
    memcpy(m, model, n);
    if (kind == 0) {
      size_t pos = (size_t)(splitmix(&st) % n);
      m[pos] ^= (uint8_t)(1u << (splitmix(&st) % 8u));
    } else if (kind == 1) {
      int times = 1 + (int)(splitmix(&st) % 4u);
      for (int t = 0; t < times; ++t) m[splitmix(&st) % n] = (uint8_t)splitmix(&st);
    } else if (kind == 3 && word_count > 0) {
      size_t pos = words[splitmix(&st) % word_count];
      uint32_t old = (uint32_t)m[pos] | ((uint32_t)m[pos + 1] << 8) | ((uint32_t)m[pos + 2] << 16) |
                     ((uint32_t)m[pos + 3] << 24);
      const uint32_t extremes[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u, (uint32_t)size,
                                   0u,          0x10000u,    old + 4u};
      uint32_t v = extremes[splitmix(&st) % (sizeof extremes / sizeof extremes[0])];
      for (int b = 0; b < 4; ++b) m[pos + (size_t)b] = (uint8_t)(v >> (8 * b));
    } else if (kind == 4) {
      int times = 2 + (int)(splitmix(&st) % 7u);
      for (int t = 0; t < times; ++t) m[splitmix(&st) % n] ^= (uint8_t)(1u << (splitmix(&st) % 8u));
    }
    tfl_case_outcome o = tfl_fuzz_run_model(m, n);
    printf("%ld %d %s %s\n", k, kind, stage_names[o.stage], tfl_status_name(o.status));
    free(m);
  }
  fflush(stdout);
  free(words);
  free(model);
  return 0;
}
