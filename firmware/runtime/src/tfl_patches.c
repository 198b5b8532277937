/* Patch-based execution of the first operators (tfl_patches.h): the check of the description and
 * the tile loop. The operators' own evals do the work over narrowed tensors; only the padding
 * above the window changes in their node data (tfl_conv_params.pad_h for CONV_2D and
 * DEPTHWISE_CONV_2D, whose data starts with it, tfl_pool2d_data.pad_h for the pools) and is put
 * back after each window. */
#include <stddef.h>

#include "kernels/tfl_kernel_conv.h"
#include "kernels/tfl_kernel_pool2d.h"
#include "tfl_fb.h"
#include "tfl_patch_run.h"

enum {
  CODE_AVERAGE_POOL_2D = 1,
  CODE_CONV_2D = 3,
  CODE_DEPTHWISE_CONV_2D = 4,
  CODE_MAX_POOL_2D = 17
};

static int32_t *pad_h_of(tfl_node *node) {
  switch (node->kernel->builtin_code) {
    case CODE_CONV_2D:
    case CODE_DEPTHWISE_CONV_2D:
      return &((tfl_conv_params *)(void *)node->data)->pad_h;
    case CODE_AVERAGE_POOL_2D:
    case CODE_MAX_POOL_2D:
      return &((tfl_pool2d_data *)(void *)node->data)->pad_h;
    default:
      return NULL;
  }
}

/* Index into the tile-tensor pairs of tensor `index`, -1 when it is not a tile tensor. */
static int32_t tile_slot(const tfl_patch_plan *pp, int32_t index) {
  for (int32_t i = 0; i < pp->tile_tensor_count; ++i) {
    if (pp->tile_tensors[2 * i] == index) return i;
  }
  return -1;
}

int32_t tfl_patch_tensor_bytes(const tfl_interpreter *it, int32_t index, int32_t bytes) {
  const tfl_patch_plan *pp = it->mem.patches;
  if (pp == NULL || pp->tile_tensors == NULL || pp->tile_tensor_count <= 0) return bytes;
  const int32_t slot = tile_slot(pp, index);
  if (slot < 0) return bytes;
  const int32_t tile = pp->tile_tensors[2 * slot + 1];
  return tile >= 0 && tile < bytes ? tile : bytes; /* a bad size is refused by tfl_patch_check */
}

static int32_t node_tensor(const tfl_node *node, int output) {
  return tfl_fb_i32(output ? node->outputs_le : node->inputs_le);
}

/* Rows [row, row + rows) lie inside the storage of tensor t (its tile rows or its height). */
static int rows_ok(const tfl_interpreter *it, int32_t t, int32_t row, int32_t rows) {
  const tfl_tensor *x = &it->mem.tensors[t];
  const int32_t height = x->dims[1], row_bytes = x->bytes / height;
  const int32_t stored = tfl_patch_tensor_bytes(it, t, x->bytes) / row_bytes;
  return row >= 0 && rows >= 1 && row <= stored && rows <= stored - row;
}

tfl_status tfl_patch_check(tfl_interpreter *it) {
  const tfl_patch_plan *pp = it->mem.patches;
  if (pp == NULL) return TFL_OK;
  const tfl_subgraph *sg = &it->subgraphs[0];
  if (it->mem.offsets == NULL || pp->windows == NULL || pp->node_count < 1 || pp->tile_count < 1 ||
      pp->first_node < 0 || pp->first_node >= sg->node_count ||
      pp->node_count > sg->node_count - pp->first_node || pp->tile_tensor_count < 0 ||
      pp->tile_tensor_count != pp->node_count - 1 ||
      (pp->tile_tensor_count > 0 && pp->tile_tensors == NULL) ||
      pp->tile_count > INT32_MAX / TFL_PATCH_WINDOW_INTS / pp->node_count) {
    return TFL_ERR_PLAN_MISMATCH;
  }
  for (int32_t k = 0; k < pp->node_count; ++k) {
    tfl_node *node = &it->mem.nodes[sg->node_base + pp->first_node + k];
    if (pad_h_of(node) == NULL || node->input_count < 1 || node->output_count != 1) {
      return TFL_ERR_PLAN_MISMATCH;
    }
    const tfl_tensor *in = tfl_node_input(it, node, 0), *out = tfl_node_output(it, node, 0);
    if (in == NULL || out == NULL || in == out || in->dims_count != 4 || out->dims_count != 4 ||
        in->dims[0] != 1 || out->dims[0] != 1 || in->dims[1] < 1 || out->dims[1] < 1 ||
        in->data == NULL || out->data == NULL) {
      return TFL_ERR_PLAN_MISMATCH;
    }
    const int32_t x = sg->tensor_base + node_tensor(node, 0);
    const int32_t y = sg->tensor_base + node_tensor(node, 1);
    /* a chain: each operator reads the one before's output, and exactly those are tile tensors */
    if (k > 0) {
      const tfl_node *prev = node - 1;
      if (node_tensor(prev, 1) != node_tensor(node, 0) || tile_slot(pp, x) != k - 1) {
        return TFL_ERR_PLAN_MISMATCH;
      }
    } else if (tile_slot(pp, x) >= 0) {
      return TFL_ERR_PLAN_MISMATCH;
    }
    if (k == pp->node_count - 1 && tile_slot(pp, y) >= 0) return TFL_ERR_PLAN_MISMATCH;
    const int32_t tile = pp->tile_tensors != NULL && k > 0 ? pp->tile_tensors[2 * k - 1] : 0;
    if (k > 0 && (tile < 1 || tile > in->bytes || in->bytes % in->dims[1] != 0 ||
                  tile % (in->bytes / in->dims[1]) != 0)) {
      return TFL_ERR_PLAN_MISMATCH;
    }
    const int32_t pad = *pad_h_of(node);
    int32_t covered = 0; /* the prefix's output rows written so far, in order */
    for (int32_t t = 0; t < pp->tile_count; ++t) {
      const int32_t *w =
          pp->windows + ((size_t)t * (size_t)pp->node_count + (size_t)k) * TFL_PATCH_WINDOW_INTS;
      if (!rows_ok(it, x, w[0], w[1]) || !rows_ok(it, y, w[2], w[3]) || w[4] < 0 || w[4] > pad) {
        return TFL_ERR_PLAN_MISMATCH;
      }
      if (k == pp->node_count - 1) {
        if (w[2] != covered) return TFL_ERR_PLAN_MISMATCH;
        covered += w[3];
      }
    }
    if (k == pp->node_count - 1 && covered != out->dims[1]) return TFL_ERR_PLAN_MISMATCH;
  }
  return TFL_OK;
}

/* A tensor narrowed to a window, and what to put back. */
typedef struct {
  tfl_tensor *t;
  void *data;
  int32_t height, bytes;
} saved_rows;

static saved_rows narrow(tfl_tensor *t, int32_t row, int32_t rows) {
  saved_rows s;
  s.t = t;
  s.data = t->data;
  s.height = t->dims[1];
  s.bytes = t->bytes;
  const int32_t row_bytes = t->bytes / t->dims[1];
  t->data = (uint8_t *)t->data + (size_t)row * (size_t)row_bytes;
  t->dims[1] = rows;
  t->bytes = rows * row_bytes;
  return s;
}

static void restore(const saved_rows *s) {
  s->t->data = s->data;
  s->t->dims[1] = s->height;
  s->t->bytes = s->bytes;
}

tfl_status tfl_patch_run(tfl_interpreter *it) {
  const tfl_patch_plan *pp = it->mem.patches;
  const int32_t base = it->subgraphs[0].node_base + pp->first_node;
  const int32_t *w = pp->windows;
  for (int32_t t = 0; t < pp->tile_count; ++t) {
    for (int32_t k = 0; k < pp->node_count; ++k, w += TFL_PATCH_WINDOW_INTS) {
      tfl_node *node = &it->mem.nodes[base + k];
      int32_t *pad = pad_h_of(node);
      const int32_t pad_saved = *pad;
      const saved_rows in = narrow(tfl_node_input(it, node, 0), w[0], w[1]);
      const saved_rows out = narrow(tfl_node_output(it, node, 0), w[2], w[3]);
      *pad = w[4];
      const tfl_status s = node->kernel->eval(it, node);
      *pad = pad_saved;
      restore(&out);
      restore(&in);
      if (s != TFL_OK) {
        it->error_op = base + k;
        return s;
      }
    }
  }
  return TFL_OK;
}
