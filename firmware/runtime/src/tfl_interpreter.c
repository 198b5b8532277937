/* Model reader and interpreter: tfl_init binds the flatbuffer's subgraphs to caller-owned
 * tensors, nodes, pool and arena, then runs every kernel's prepare; tfl_invoke runs eval.
 *
 * TFLite schema field indices used here (declaration order in schema.fbs):
 *   Model:          0 version, 1 operator_codes, 2 subgraphs, 4 buffers
 *   OperatorCode:   0 deprecated_builtin_code (byte), 3 builtin_code (int)
 *   SubGraph:       0 tensors, 1 inputs, 2 outputs, 3 operators
 *   Tensor:         0 shape, 1 type, 2 buffer, 4 quantization, 5 is_variable
 *   Quantization:   2 scale [float], 3 zero_point [long], 6 quantized_dimension
 *   Operator:       0 opcode_index, 1 inputs, 2 outputs, 3 builtin_options_type, 4 builtin_options
 *   Buffer:         0 data [ubyte], 1 offset (ulong), 2 size (ulong) */
#include <stdint.h>
#include <string.h>

#include "kernels/tfl_kernel_wz.h"
#include "tfl_fb.h"
#include "tfl_kernel.h"
#include "tfl_patch_run.h"

enum { TFL_BUILTIN_CUSTOM = 32 };

static tfl_fb model_fb(const tfl_interpreter *it) {
  tfl_fb fb;
  fb.buf = it->model;
  fb.size = it->model_size;
  return fb;
}

/* Bytes per element of a tensor type; 0 when the runtime cannot hold it. */
static int32_t type_size(uint8_t type) {
  switch (type) {
    case TFL_TYPE_INT8:
    case TFL_TYPE_UINT8:
    case TFL_TYPE_BOOL:
      return 1;
    case TFL_TYPE_INT16:
    case TFL_TYPE_FLOAT16:
    case 16: /* UINT16 */
      return 2;
    case TFL_TYPE_INT32:
    case TFL_TYPE_FLOAT32:
    case 15:                /* UINT32 */
    case TFL_TYPE_RESOURCE: /* holds the int32 id of a resource variable (VAR_HANDLE) */
      return 4;
    case TFL_TYPE_INT64:
    case TFL_TYPE_COMPLEX64:
    case 10: /* FLOAT64 */
    case 12: /* UINT64 */
      return 8;
    default:
      return 0;
  }
}

/* The model's top-level vectors, shared by tfl_init and tfl_model_counts. */
typedef struct model_view {
  uint32_t root;
  uint32_t subgraphs, subgraph_count;
  uint32_t opcodes, opcode_count;
  uint32_t buffers, buffer_count;
} model_view;

/* One subgraph's vectors. */
typedef struct subgraph_view {
  uint32_t table;
  uint32_t tensors, tensor_count;
  uint32_t operators, operator_count;
  uint32_t inputs, input_count;
  uint32_t outputs, output_count;
} subgraph_view;

TFL_MUST_CHECK static tfl_status open_model(const tfl_fb *fb, model_view *v) {
  memset(v, 0, sizeof *v);
  TFL_ENSURE(tfl_fb_root(fb, "TFL3", &v->root));
  int32_t version;
  TFL_ENSURE(tfl_fb_get_i32(fb, v->root, 0, 0, &version));
  if (version != 3) return TFL_ERR_MODEL_VERSION;
  TFL_ENSURE(tfl_fb_vector(fb, v->root, 2, 4, &v->subgraphs, &v->subgraph_count));
  if (v->subgraph_count == 0 || v->subgraph_count > TFL_MAX_SUBGRAPHS) {
    return TFL_ERR_SUBGRAPH_COUNT;
  }
  TFL_ENSURE(tfl_fb_vector(fb, v->root, 1, 4, &v->opcodes, &v->opcode_count));
  TFL_ENSURE(tfl_fb_vector(fb, v->root, 4, 4, &v->buffers, &v->buffer_count));
  return TFL_OK;
}

TFL_MUST_CHECK static tfl_status open_subgraph(const tfl_fb *fb, const model_view *v,
                                               uint32_t index, subgraph_view *sv) {
  memset(sv, 0, sizeof *sv);
  TFL_ENSURE(tfl_fb_vector_table(fb, v->subgraphs, v->subgraph_count, index, &sv->table));
  TFL_ENSURE(tfl_fb_vector(fb, sv->table, 0, 4, &sv->tensors, &sv->tensor_count));
  TFL_ENSURE(tfl_fb_vector(fb, sv->table, 1, 4, &sv->inputs, &sv->input_count));
  TFL_ENSURE(tfl_fb_vector(fb, sv->table, 2, 4, &sv->outputs, &sv->output_count));
  TFL_ENSURE(tfl_fb_vector(fb, sv->table, 3, 4, &sv->operators, &sv->operator_count));
  return TFL_OK;
}

/* Tensors and operators over all subgraphs (each total below INT32_MAX / 2). */
TFL_MUST_CHECK static tfl_status count_all(const tfl_fb *fb, const model_view *v, uint32_t *tensors,
                                           uint32_t *operators) {
  *tensors = 0;
  *operators = 0;
  for (uint32_t g = 0; g < v->subgraph_count; ++g) {
    subgraph_view sv;
    TFL_ENSURE(open_subgraph(fb, v, g, &sv));
    if (sv.tensor_count > (uint32_t)INT32_MAX / 2 - *tensors ||
        sv.operator_count > (uint32_t)INT32_MAX / 2 - *operators) {
      return TFL_ERR_MODEL_INVALID;
    }
    *tensors += sv.tensor_count;
    *operators += sv.operator_count;
  }
  return TFL_OK;
}

tfl_status tfl_model_counts(const uint8_t *model, size_t model_size, int32_t *tensor_count,
                            int32_t *op_count) {
  if (model == NULL || tensor_count == NULL || op_count == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (model_size > UINT32_MAX) return TFL_ERR_MODEL_INVALID;
  tfl_fb fb = {model, (uint32_t)model_size};
  model_view v;
  uint32_t tensors, operators;
  TFL_ENSURE(open_model(&fb, &v));
  TFL_ENSURE(count_all(&fb, &v, &tensors, &operators));
  *tensor_count = (int32_t)tensors;
  *op_count = (int32_t)operators;
  return TFL_OK;
}

/* Every entry of an int32 index vector must be a tensor index (or -1 when allow_absent). */
TFL_MUST_CHECK static tfl_status check_indices(const tfl_fb *fb, uint32_t data, uint32_t len,
                                               int32_t tensor_count, int allow_absent) {
  for (uint32_t i = 0; i < len; ++i) {
    int32_t idx = tfl_fb_i32(fb->buf + data + 4u * i);
    if (idx == -1 && allow_absent) continue;
    if (idx < 0 || idx >= tensor_count) return TFL_ERR_MODEL_INVALID;
  }
  return TFL_OK;
}

TFL_MUST_CHECK static tfl_status read_quantization(const tfl_fb *fb, uint32_t tensor_table,
                                                   tfl_tensor *t) {
  uint32_t q;
  tfl_status s = tfl_fb_table(fb, tensor_table, 4, &q);
  if (s != TFL_OK || q == 0) return s;
  uint32_t scales, scale_count, zps, zp_count;
  TFL_ENSURE(tfl_fb_vector(fb, q, 2, 4, &scales, &scale_count));
  TFL_ENSURE(tfl_fb_vector(fb, q, 3, 8, &zps, &zp_count));
  if (scale_count == 0) return TFL_OK; /* min/max only: not quantized */
  if (zp_count != scale_count || scale_count > (uint32_t)INT32_MAX) {
    return TFL_ERR_BAD_QUANTIZATION;
  }
  int32_t qdim;
  TFL_ENSURE(tfl_fb_get_i32(fb, q, 6, 0, &qdim));
  if (scale_count > 1) {
    if (qdim >= 1 && t->dims_count == 1 && t->dims[0] == (int32_t)scale_count) {
      /* older converters wrote a per-channel bias with the filter's quantized_dimension (e.g. 3
       * for CONV_2D): one scale per element of a 1-D tensor, which TFLM accepts */
      qdim = 0;
    } else if (qdim < 0 || qdim >= t->dims_count || t->dims[qdim] != (int32_t)scale_count) {
      return TFL_ERR_BAD_QUANTIZATION;
    }
  }
  t->quant_count = (int32_t)scale_count;
  t->quant_dim = qdim;
  t->scales_le = fb->buf + scales;
  t->zero_points_le = fb->buf + zps;
  t->scale = tfl_tensor_channel_scale(t, 0);
  /* zero points are int64 in the schema: the low word must hold the whole value */
  for (uint32_t c = 0; c < scale_count; ++c) {
    int32_t lo = tfl_fb_i32(fb->buf + zps + 8u * c);
    int32_t hi = tfl_fb_i32(fb->buf + zps + 8u * c + 4u);
    if (hi != (lo < 0 ? -1 : 0)) return TFL_ERR_BAD_QUANTIZATION;
  }
  t->zero_point = tfl_tensor_channel_zero_point(t, 0);
  /* zero points must be values of the storage type (TFLite's quantization spec); kernels rely on
   * it to negate and subtract them without overflow */
  int32_t lo = INT32_MIN, hi = INT32_MAX;
  if (t->type == TFL_TYPE_INT8) {
    lo = -128;
    hi = 127;
  } else if (t->type == TFL_TYPE_UINT8) {
    lo = 0;
    hi = 255;
  } else if (t->type == TFL_TYPE_INT16) {
    lo = -32768;
    hi = 32767;
  }
  for (uint32_t c = 0; c < scale_count; ++c) {
    int32_t zp = tfl_fb_i32(fb->buf + zps + 8u * c);
    if (zp < lo || zp > hi) return TFL_ERR_BAD_QUANTIZATION;
  }
  return TFL_OK;
}

TFL_MUST_CHECK static tfl_status read_tensor(tfl_interpreter *it, const tfl_fb *fb,
                                             const model_view *v, int32_t index, uint32_t table,
                                             uint32_t *seq_cursor) {
  /* index: global (the subgraph's tensor_base + its local index) */
  tfl_tensor *t = &it->mem.tensors[index];
  tfl_status s;
  memset(t, 0, sizeof *t);
  uint32_t shape, rank;
  TFL_ENSURE(tfl_fb_vector(fb, table, 0, 4, &shape, &rank));
  if (rank > TFL_MAX_DIMS) return TFL_ERR_BAD_SHAPE;
  uint8_t type;
  TFL_ENSURE(tfl_fb_get_u8(fb, table, 1, 0, &type));
  int32_t esize = type_size(type);
  if (esize == 0) return TFL_ERR_UNSUPPORTED_TYPE;
  int32_t elements = 1;
  for (uint32_t d = 0; d < rank; ++d) {
    int32_t dim = tfl_fb_i32(fb->buf + shape + 4u * d);
    if (dim < 0) return TFL_ERR_BAD_SHAPE;
    if (dim != 0 && elements > INT32_MAX / dim) return TFL_ERR_BAD_SHAPE;
    elements *= dim;
    t->dims[d] = dim;
  }
  if (elements > INT32_MAX / esize) return TFL_ERR_BAD_SHAPE;
  t->dims_count = (uint8_t)rank;
  t->type = type;
  t->bytes = elements * esize;
  TFL_ENSURE(read_quantization(fb, table, t));
  uint8_t is_variable;
  TFL_ENSURE(tfl_fb_get_u8(fb, table, 5, 0, &is_variable));

  int32_t buffer_index;
  TFL_ENSURE(tfl_fb_get_i32(fb, table, 2, 0, &buffer_index));
  if (buffer_index < 0 || (uint32_t)buffer_index >= v->buffer_count) {
    /* buffer 0 is the schema's empty sentinel; an empty buffers vector is tolerated for it */
    if (!(buffer_index == 0 && v->buffer_count == 0)) return TFL_ERR_MODEL_INVALID;
  }
  uint32_t data = 0, data_len = 0;
  if (v->buffer_count != 0) {
    uint32_t buffer;
    if ((s = tfl_fb_vector_table(fb, v->buffers, v->buffer_count, (uint32_t)buffer_index,
                                 &buffer)) != TFL_OK) {
      return s;
    }
    TFL_ENSURE(tfl_fb_vector(fb, buffer, 0, 1, &data, &data_len));
    if (data_len == 0) {
      /* Large models keep buffers outside the flatbuffer: offset/size from the file start. */
      uint64_t off, size;
      TFL_ENSURE(tfl_fb_get_u64(fb, buffer, 1, 0, &off));
      TFL_ENSURE(tfl_fb_get_u64(fb, buffer, 2, 0, &size));
      if (off > 1) {
        if (off > fb->size || size > fb->size - off) return TFL_ERR_MODEL_TRUNCATED;
        data = (uint32_t)off;
        data_len = (uint32_t)size;
      }
    }
  }

  int32_t planned = -1;
  if (it->mem.offsets != NULL) planned = it->mem.offsets[index];
  /* a variable's buffer (an initial value some converters write) is ignored, as TFLM does:
   * variables live in the arena and start at zero */
  if (data_len != 0 && !is_variable) {
    if (data_len != (uint32_t)t->bytes) {
      /* compressed int8 weights (tfl_kernel_wz.h): checked whole here, decoded by the kernels */
      if (!TFL_WITH_WZ) return TFL_ERR_BAD_BUFFER;
      TFL_ENSURE(tfl_wz_check(fb->buf + data, data_len, t));
      if (planned != -1) return TFL_ERR_PLAN_MISMATCH;
      t->data = (void *)(uintptr_t)(fb->buf + data);
      t->is_constant = TFL_CONSTANT_COMPRESSED;
      return TFL_OK;
    }
    /* kernels read multi-byte constants in place: they must be naturally aligned, 8-byte
     * types to 4 bytes only (the 16x8 converter writes int64 biases at 4-byte offsets; kernels
     * read them with tfl_load_i64) */
    if (((uintptr_t)(fb->buf + data) % (uintptr_t)(esize > 4 ? 4 : esize)) != 0) {
      return TFL_ERR_BAD_BUFFER;
    }
    if (planned != -1) return TFL_ERR_PLAN_MISMATCH;
    t->data = (void *)(uintptr_t)(fb->buf + data);
    t->is_constant = 1;
    return TFL_OK;
  }

  uint32_t offset;
  if (it->mem.offsets != NULL) {
    if (planned == -1) return TFL_OK; /* not in the plan: must not be used (checked later) */
    if (planned < 0 || planned % esize != 0) return TFL_ERR_PLAN_MISMATCH;
    offset = (uint32_t)planned;
  } else {
    uint32_t cursor = *seq_cursor;
    if (cursor > UINT32_MAX - 15u) return TFL_ERR_ARENA_TOO_SMALL;
    offset = (cursor + 15u) & ~15u;
    if ((uint32_t)t->bytes > UINT32_MAX - offset) return TFL_ERR_ARENA_TOO_SMALL;
    *seq_cursor = offset + (uint32_t)t->bytes;
  }
  /* a tile tensor of a patch plan holds one tile's rows (tfl_patches.h) */
  const int32_t stored = tfl_patch_tensor_bytes(it, index, t->bytes);
  if (offset > (uint32_t)it->mem.arena_bytes ||
      (uint32_t)stored > (uint32_t)it->mem.arena_bytes - offset) {
    return TFL_ERR_ARENA_TOO_SMALL;
  }
  t->data = it->mem.arena + offset;
  t->is_variable = is_variable != 0;
  if ((int32_t)(offset + (uint32_t)stored) > it->arena_used) {
    it->arena_used = (int32_t)(offset + (uint32_t)stored);
  }
  return TFL_OK;
}

/* A tensor an operator or the subgraph uses must have storage (indices local to sg, checked);
 * one that is written (an operator's output, a subgraph's input, which the caller or a
 * control-flow op writes) must not be a constant: that would write into the model bytes (flash
 * on a device; found by tests/fuzz, fuzz_model). */
TFL_MUST_CHECK static tfl_status check_bound(const tfl_interpreter *it, const tfl_subgraph *sg,
                                             const uint8_t *indices_le, int32_t count,
                                             int written) {
  for (int32_t i = 0; i < count; ++i) {
    int32_t idx = tfl_fb_i32(indices_le + 4 * i);
    if (idx < 0) continue;
    const tfl_tensor *t = &it->mem.tensors[sg->tensor_base + idx];
    if (t->data == NULL && t->bytes != 0) return TFL_ERR_PLAN_MISMATCH;
    if (written && t->is_constant) return TFL_ERR_MODEL_INVALID;
  }
  return TFL_OK;
}

/* Compressed weights (tfl_kernel_wz.h) are read only by the kernels that decode them: entry
 * `allowed` of an operator's inputs (1, the weights, for CONV_2D, DEPTHWISE_CONV_2D,
 * FULLY_CONNECTED and TRANSPOSE_CONV; -1 for every other operator and for a subgraph's
 * outputs). */
TFL_MUST_CHECK static tfl_status check_compressed(const tfl_interpreter *it, const tfl_subgraph *sg,
                                                  const uint8_t *indices_le, int32_t count,
                                                  int32_t allowed) {
  for (int32_t i = 0; i < count; ++i) {
    int32_t idx = tfl_fb_i32(indices_le + 4 * i);
    if (idx >= 0 && i != allowed &&
        it->mem.tensors[sg->tensor_base + idx].is_constant == TFL_CONSTANT_COMPRESSED) {
      return TFL_ERR_BAD_BUFFER;
    }
  }
  return TFL_OK;
}

TFL_MUST_CHECK static tfl_status read_operator(tfl_interpreter *it, const tfl_fb *fb,
                                               const model_view *v, const tfl_op_table *ops,
                                               int32_t subgraph, int32_t index, uint32_t table) {
  tfl_node *n = &it->mem.nodes[index];
  const tfl_subgraph *sg = &it->subgraphs[subgraph];
  tfl_status s;
  memset(n, 0, sizeof *n);
  n->subgraph = (int16_t)subgraph; /* < TFL_MAX_SUBGRAPHS */
  int32_t opcode_index;
  TFL_ENSURE(tfl_fb_get_i32(fb, table, 0, 0, &opcode_index));
  if (opcode_index < 0 || (uint32_t)opcode_index >= v->opcode_count) return TFL_ERR_MODEL_INVALID;
  uint32_t opcode;
  if ((s = tfl_fb_vector_table(fb, v->opcodes, v->opcode_count, (uint32_t)opcode_index, &opcode)) !=
      TFL_OK) {
    return s;
  }
  uint8_t deprecated;
  int32_t builtin;
  TFL_ENSURE(tfl_fb_get_u8(fb, opcode, 0, 0, &deprecated));
  TFL_ENSURE(tfl_fb_get_i32(fb, opcode, 3, 0, &builtin));
  /* deprecated_builtin_code is a signed byte in the schema */
  int32_t dep = (int32_t)(int8_t)deprecated;
  n->builtin_code = dep > builtin ? dep : builtin;

  uint32_t in, in_len, out, out_len;
  TFL_ENSURE(tfl_fb_vector(fb, table, 1, 4, &in, &in_len));
  TFL_ENSURE(tfl_fb_vector(fb, table, 2, 4, &out, &out_len));
  TFL_ENSURE(check_indices(fb, in, in_len, sg->tensor_count, 1));
  TFL_ENSURE(check_indices(fb, out, out_len, sg->tensor_count, 0));
  n->inputs_le = fb->buf + in;
  n->outputs_le = fb->buf + out;
  n->input_count = (int32_t)in_len;
  n->output_count = (int32_t)out_len;
  TFL_ENSURE(check_bound(it, sg, n->inputs_le, n->input_count, 0));
  TFL_ENSURE(check_bound(it, sg, n->outputs_le, n->output_count, 1));
  const int decodes =
      n->builtin_code == 3 || n->builtin_code == 4 || n->builtin_code == 9 || n->builtin_code == 67;
  TFL_ENSURE(check_compressed(it, sg, n->inputs_le, n->input_count, decodes ? 1 : -1));

  uint8_t options_type;
  TFL_ENSURE(tfl_fb_get_u8(fb, table, 3, 0, &options_type));
  uint32_t options;
  TFL_ENSURE(tfl_fb_table(fb, table, 4, &options));
  n->options_type = options_type;
  n->options_offset = options;

  if (n->builtin_code == TFL_BUILTIN_CUSTOM) return TFL_ERR_UNSUPPORTED_OP;
  if (ops != NULL && ops->node_kernels != NULL && subgraph == 0 && index < ops->node_kernel_count &&
      ops->node_kernels[index] != NULL &&
      ops->node_kernels[index]->builtin_code == n->builtin_code) {
    n->kernel = ops->node_kernels[index]; /* a layer specialised at generate time (--aot) */
  } else if (ops != NULL && ops->kernels != NULL) {
    for (int32_t k = 0; k < ops->count; ++k) {
      const tfl_kernel *kernel = ops->kernels[k];
      if (kernel != NULL && kernel->builtin_code == n->builtin_code) {
        n->kernel = kernel;
        break;
      }
    }
  }
  if (n->kernel == NULL || n->kernel->prepare == NULL || n->kernel->eval == NULL) {
    return TFL_ERR_UNSUPPORTED_OP;
  }
  return TFL_OK;
}

/* Variable tensors (recurrent state) start at zero and resource variables at their initial
 * value; the plan never lends their bytes to another tensor (plan.py: live for the whole run). */
static void zero_variables(tfl_interpreter *it) {
  for (int32_t i = 0; i < it->tensor_count; ++i) {
    tfl_tensor *t = &it->mem.tensors[i];
    /* int8 state starts at its zero point (real 0), everything else at 0, as in TFLM */
    if (t->is_variable && t->data != NULL) {
      memset(t->data, t->type == TFL_TYPE_INT8 ? t->zero_point : 0, (size_t)t->bytes);
    }
  }
  for (int32_t r = 0; r < it->resource_count; ++r) {
    tfl_resource *res = &it->resources[r];
    if (res->data != NULL) memset(res->data, res->initial, (size_t)res->bytes);
  }
}

/* Reads subgraph g's tensors, inputs and outputs (its tensor_base and node_base are set). */
TFL_MUST_CHECK static tfl_status read_subgraph(tfl_interpreter *it, const tfl_fb *fb,
                                               const model_view *v, const subgraph_view *sv,
                                               tfl_subgraph *sg, uint32_t *cursor) {
  sg->tensor_count = (int32_t)sv->tensor_count;
  sg->node_count = (int32_t)sv->operator_count;
  for (uint32_t i = 0; i < sv->tensor_count; ++i) {
    uint32_t table;
    TFL_ENSURE(tfl_fb_vector_table(fb, sv->tensors, sv->tensor_count, i, &table));
    TFL_ENSURE(read_tensor(it, fb, v, sg->tensor_base + (int32_t)i, table, cursor));
  }
  TFL_ENSURE(check_indices(fb, sv->inputs, sv->input_count, sg->tensor_count, 0));
  TFL_ENSURE(check_indices(fb, sv->outputs, sv->output_count, sg->tensor_count, 0));
  sg->inputs_le = it->model + sv->inputs;
  sg->outputs_le = it->model + sv->outputs;
  sg->input_count = (int32_t)sv->input_count;
  sg->output_count = (int32_t)sv->output_count;
  TFL_ENSURE(check_bound(it, sg, sg->inputs_le, sg->input_count, 1));
  TFL_ENSURE(check_compressed(it, sg, sg->outputs_le, sg->output_count, -1));
  return check_bound(it, sg, sg->outputs_le, sg->output_count, 0);
}

/* The plan's length, once prepare has counted the resource variables: tensors only, tensors and
 * one scratch entry per operator, or (with resources) tensors, operators and resources. */
static int plan_length_ok(const tfl_interpreter *it) {
  const int32_t n = it->mem.offsets_count, base = it->tensor_count + it->node_count;
  if (it->mem.offsets == NULL) return 1;
  if (it->resource_count > 0) return n == base + it->resource_count;
  return n == it->tensor_count || n == base;
}

TFL_MUST_CHECK static tfl_status init_body(tfl_interpreter *it, const tfl_op_table *ops) {
  tfl_fb fb = model_fb(it);
  model_view v;
  uint32_t tensor_total, operator_total;
  TFL_ENSURE(open_model(&fb, &v));
  TFL_ENSURE(count_all(&fb, &v, &tensor_total, &operator_total));
  if (tensor_total > (uint32_t)it->mem.tensor_capacity) return TFL_ERR_TOO_MANY_TENSORS;
  if (operator_total > (uint32_t)it->mem.node_capacity) return TFL_ERR_TOO_MANY_OPS;
  if (tensor_total > 0 && it->mem.tensors == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (operator_total > 0 && it->mem.nodes == NULL) return TFL_ERR_NULL_ARGUMENT;
  /* The plan: one offset per tensor, then (when some kernel takes scratch memory or the model has
   * resource variables) one per operator, its scratch offset or -1 (tfl_scratch_request), then
   * one per resource variable. Its exact length is checked once prepare has counted resources;
   * every read before that is bounds-checked against offsets_count. */
  if (it->mem.offsets != NULL && it->mem.offsets_count < (int32_t)tensor_total) {
    return TFL_ERR_PLAN_MISMATCH;
  }
  it->tensor_count = (int32_t)tensor_total;
  it->node_count = (int32_t)operator_total;
  it->subgraph_count = (int32_t)v.subgraph_count;

  uint32_t cursor = 0;
  int32_t tensor_base = 0, node_base = 0;
  for (uint32_t g = 0; g < v.subgraph_count; ++g) {
    subgraph_view sv;
    tfl_subgraph *sg = &it->subgraphs[g];
    TFL_ENSURE(open_subgraph(&fb, &v, g, &sv));
    /* the counts were summed by count_all from the same bytes: they cannot exceed the totals */
    sg->tensor_base = tensor_base;
    sg->node_base = node_base;
    TFL_ENSURE(read_subgraph(it, &fb, &v, &sv, sg, &cursor));
    tensor_base += sg->tensor_count;
    node_base += sg->node_count;
  }
  it->inputs_le = it->subgraphs[0].inputs_le;
  it->outputs_le = it->subgraphs[0].outputs_le;
  it->input_count = it->subgraphs[0].input_count;
  it->output_count = it->subgraphs[0].output_count;

  for (uint32_t g = 0; g < v.subgraph_count; ++g) {
    subgraph_view sv;
    const tfl_subgraph *sg = &it->subgraphs[g];
    TFL_ENSURE(open_subgraph(&fb, &v, g, &sv));
    for (int32_t i = 0; i < sg->node_count; ++i) {
      uint32_t table;
      it->error_op = sg->node_base + i;
      TFL_ENSURE(tfl_fb_vector_table(&fb, sv.operators, sv.operator_count, (uint32_t)i, &table));
      TFL_ENSURE(read_operator(it, &fb, &v, ops, (int32_t)g, sg->node_base + i, table));
    }
  }
  /* every subgraph in index order, each in its operator order (as TFLM prepares them) */
  for (int32_t i = 0; i < it->node_count; ++i) {
    tfl_node *n = &it->mem.nodes[i];
    it->error_op = i;
    TFL_ENSURE(n->kernel->prepare(it, n));
  }
  it->error_op = -1;
  if (!plan_length_ok(it)) return TFL_ERR_PLAN_MISMATCH;
  TFL_ENSURE(tfl_patch_check(it));
  zero_variables(it);
  return TFL_OK;
}

tfl_status tfl_init(tfl_interpreter *it, const uint8_t *model, size_t model_size,
                    const tfl_op_table *ops, const tfl_memory *mem) {
  if (it == NULL) return TFL_ERR_NULL_ARGUMENT;
  memset(it, 0, sizeof *it);
  it->error_op = -1;
  if (model == NULL || mem == NULL || ops == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (model_size > UINT32_MAX - 16u) return TFL_ERR_MODEL_INVALID;
  if (mem->tensor_capacity < 0 || mem->node_capacity < 0 || mem->pool_words < 0 ||
      mem->arena_bytes < 0 || mem->offsets_count < 0) {
    return TFL_ERR_BAD_ARGUMENT;
  }
  if (mem->arena_bytes > 0 && mem->arena == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (((uintptr_t)mem->arena % 16u) != 0) return TFL_ERR_BAD_ARGUMENT;
  it->model = model;
  it->model_size = (uint32_t)model_size;
  it->mem = *mem;
  tfl_status s = init_body(it, ops);
  if (s == TFL_OK) {
    it->ready = 1;
  } else if (it->error_op >= it->node_count) {
    it->error_op = -1;
  }
  return s;
}

/* Runs subgraph `index`'s operators; error_op keeps the innermost failing operator. */
TFL_MUST_CHECK static tfl_status run_subgraph(tfl_interpreter *it, int32_t index) {
  if (index < 0 || index >= it->subgraph_count) return TFL_ERR_MODEL_INVALID;
  tfl_subgraph *sg = &it->subgraphs[index];
  if (sg->running) return TFL_ERR_MODEL_INVALID; /* a subgraph calling itself */
  sg->running = 1;
  tfl_status s = TFL_OK;
  const tfl_patch_plan *pp = index == 0 ? it->mem.patches : NULL;
  for (int32_t k = 0; k < sg->node_count && s == TFL_OK; ++k) {
    if (pp != NULL && k == pp->first_node) { /* the prefix tile by tile, hook after its last */
      s = tfl_patch_run(it);
      k += pp->node_count - 1;
    }
    const int32_t i = sg->node_base + k;
    tfl_node *n = &it->mem.nodes[i];
    if (pp == NULL || k < pp->first_node || k >= pp->first_node + pp->node_count) {
      s = n->kernel->eval(it, n);
    }
    if (s != TFL_OK) {
      if (it->error_op < 0) it->error_op = i;
    } else if (it->hook != NULL && it->hook(it->hook_user, it, i, n) != TFL_OK) {
      it->error_op = i;
      s = TFL_ERR_HOOK;
    }
  }
  sg->running = 0;
  return s;
}

tfl_status tfl_invoke(tfl_interpreter *it) {
  if (it == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (!it->ready) return TFL_ERR_NOT_READY;
  it->error_op = -1;
  return run_subgraph(it, 0);
}

tfl_status tfl_invoke_subgraph(tfl_context *ctx, int32_t index) {
  if (ctx == NULL) return TFL_ERR_NULL_ARGUMENT;
  return run_subgraph(ctx, index);
}

tfl_status tfl_reset_variables(tfl_interpreter *it) {
  if (it == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (!it->ready) return TFL_ERR_NOT_READY;
  zero_variables(it);
  for (int32_t i = 0; i < it->node_count; ++i) {
    tfl_node *n = &it->mem.nodes[i];
    if (n->kernel->reset != NULL) n->kernel->reset(it, n);
  }
  return TFL_OK;
}

int32_t tfl_input_count(const tfl_interpreter *it) {
  return (it != NULL && it->ready) ? it->input_count : 0;
}

int32_t tfl_output_count(const tfl_interpreter *it) {
  return (it != NULL && it->ready) ? it->output_count : 0;
}

/* subgraph 0's tensors start at global index 0 */
tfl_tensor *tfl_input(tfl_interpreter *it, int32_t index) {
  if (it == NULL || !it->ready || index < 0 || index >= it->input_count) return NULL;
  return &it->mem.tensors[tfl_fb_i32(it->inputs_le + 4 * index)];
}

tfl_tensor *tfl_output(tfl_interpreter *it, int32_t index) {
  if (it == NULL || !it->ready || index < 0 || index >= it->output_count) return NULL;
  return &it->mem.tensors[tfl_fb_i32(it->outputs_le + 4 * index)];
}

tfl_tensor *tfl_tensor_at(tfl_interpreter *it, int32_t tensor_index) {
  if (it == NULL || !it->ready || tensor_index < 0 || tensor_index >= it->tensor_count) return NULL;
  return &it->mem.tensors[tensor_index];
}

const char *tfl_op_name(const tfl_node *node) {
  if (node == NULL || node->kernel == NULL || node->kernel->name == NULL) return "?";
  return node->kernel->name;
}

/* ---- kernel-facing accessors --------------------------------------------------------- */

/* Tensor of a local index of node's subgraph; NULL when out of range. */
static tfl_tensor *local_tensor(tfl_context *ctx, const tfl_node *node, int32_t idx) {
  if (node->subgraph < 0 || node->subgraph >= ctx->subgraph_count) return NULL;
  const tfl_subgraph *sg = &ctx->subgraphs[node->subgraph];
  if (idx < 0 || idx >= sg->tensor_count) return NULL;
  return &ctx->mem.tensors[sg->tensor_base + idx];
}

tfl_tensor *tfl_node_input(tfl_context *ctx, const tfl_node *node, int32_t i) {
  if (ctx == NULL || node == NULL || i < 0 || i >= node->input_count) return NULL;
  return local_tensor(ctx, node, tfl_fb_i32(node->inputs_le + 4 * i));
}

tfl_tensor *tfl_node_output(tfl_context *ctx, const tfl_node *node, int32_t i) {
  if (ctx == NULL || node == NULL || i < 0 || i >= node->output_count) return NULL;
  return local_tensor(ctx, node, tfl_fb_i32(node->outputs_le + 4 * i));
}

int32_t tfl_tensor_elements(const tfl_tensor *t) {
  int32_t n = 1;
  for (int32_t d = 0; d < t->dims_count; ++d) n *= t->dims[d]; /* bounded by init */
  return n;
}

int32_t tfl_dim(const tfl_tensor *t, int32_t d) {
  if (d < 0 || d >= t->dims_count) return 1;
  return t->dims[d];
}

float tfl_tensor_channel_scale(const tfl_tensor *t, int32_t c) {
  if (t->quant_count <= 0 || t->scales_le == NULL) return 0.0f;
  if (c < 0 || c >= t->quant_count) c = 0;
  uint32_t bits = tfl_fb_u32(t->scales_le + 4 * c);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

int32_t tfl_tensor_channel_zero_point(const tfl_tensor *t, int32_t c) {
  if (t->quant_count <= 0 || t->zero_points_le == NULL) return 0;
  if (c < 0 || c >= t->quant_count) c = 0;
  return tfl_fb_i32(t->zero_points_le + 8 * c); /* range checked by init */
}

int tfl_same_shape(const tfl_tensor *a, const tfl_tensor *b) {
  if (a->dims_count != b->dims_count) return 0;
  for (int32_t d = 0; d < a->dims_count; ++d) {
    if (a->dims[d] != b->dims[d]) return 0;
  }
  return 1;
}

/* ---- builtin options ------------------------------------------------------------------ */

TFL_MUST_CHECK static tfl_status option_pos(const tfl_context *ctx, const tfl_node *node, int field,
                                            uint32_t width, uint32_t *pos) {
  *pos = 0;
  if (ctx == NULL || node == NULL) return TFL_ERR_NULL_ARGUMENT;
  if (node->options_offset == 0) return TFL_OK;
  tfl_fb fb = model_fb(ctx);
  return tfl_fb_field(&fb, node->options_offset, field, width, pos);
}

/* The scalar of `width` bytes (1, or 4: int32/float32 bits, little-endian in the model) of
 * `field` into *out, or the `width` bytes at `dflt` when the field is absent. */
TFL_MUST_CHECK static tfl_status option_scalar(const tfl_context *ctx, const tfl_node *node,
                                               int field, uint32_t width, const void *dflt,
                                               void *out) {
  uint32_t pos;
  TFL_ENSURE(option_pos(ctx, node, field, width, &pos));
  if (pos == 0) {
    memcpy(out, dflt, width);
  } else if (width == 1) {
    memcpy(out, ctx->model + pos, 1);
  } else {
    const uint32_t bits = tfl_fb_u32(ctx->model + pos);
    memcpy(out, &bits, sizeof bits);
  }
  return TFL_OK;
}

/* tfl_option_i8, tfl_option_i32 and tfl_option_f32: one reader, typed. */
#define TFL_OPTION_SCALAR(name, type)                                                              \
  tfl_status tfl_option_##name(const tfl_context *ctx, const tfl_node *node, int field, type dflt, \
                               type *out) {                                                        \
    return option_scalar(ctx, node, field, (uint32_t)sizeof(type), &dflt, out);                    \
  }
TFL_OPTION_SCALAR(i8, int8_t)
TFL_OPTION_SCALAR(i32, int32_t)
TFL_OPTION_SCALAR(f32, float)
#undef TFL_OPTION_SCALAR

tfl_status tfl_option_bool(const tfl_context *ctx, const tfl_node *node, int field, int dflt,
                           int *out) {
  int8_t v;
  TFL_ENSURE(tfl_option_i8(ctx, node, field, dflt ? 1 : 0, &v));
  *out = v != 0;
  return TFL_OK;
}

tfl_status tfl_option_i32_vector(const tfl_context *ctx, const tfl_node *node, int field,
                                 int32_t *out, int32_t capacity, int32_t *count) {
  if (ctx == NULL || node == NULL || count == NULL) return TFL_ERR_NULL_ARGUMENT;
  *count = 0;
  if (node->options_offset == 0) return TFL_OK;
  tfl_fb fb = model_fb(ctx);
  uint32_t data, len;
  TFL_ENSURE(tfl_fb_vector(&fb, node->options_offset, field, 4, &data, &len));
  if (capacity < 0 || len > (uint32_t)capacity) return TFL_ERR_BAD_ARGUMENT;
  if (len > 0 && out == NULL) return TFL_ERR_NULL_ARGUMENT;
  for (uint32_t i = 0; i < len; ++i) out[i] = tfl_fb_i32(ctx->model + data + 4u * i);
  *count = (int32_t)len;
  return TFL_OK;
}

/* ---- per-channel parameter pool ------------------------------------------------------ */

tfl_status tfl_pool_alloc(tfl_context *ctx, int32_t words, int32_t **out) {
  if (ctx == NULL || out == NULL) return TFL_ERR_NULL_ARGUMENT;
  *out = NULL;
  if (words < 0) return TFL_ERR_BAD_ARGUMENT;
  if (words > ctx->mem.pool_words - ctx->pool_used) return TFL_ERR_POOL_TOO_SMALL;
  if (ctx->mem.pool == NULL) return words > 0 ? TFL_ERR_POOL_TOO_SMALL : TFL_OK;
  *out = ctx->mem.pool + ctx->pool_used;
  ctx->pool_used += words;
  return TFL_OK;
}

/* Arena bytes [*at, *at + bytes) for plan entry `entry` (a scratch or resource entry after the
 * tensors'), or after everything laid out so far when there is no plan; bounds-checked. */
TFL_MUST_CHECK static tfl_status arena_place(tfl_context *ctx, int32_t entry, int32_t bytes,
                                             uint32_t *at) {
  if (ctx->mem.offsets != NULL) {
    if (entry < 0 || entry >= ctx->mem.offsets_count) return TFL_ERR_PLAN_MISMATCH;
    const int32_t planned = ctx->mem.offsets[entry];
    if (planned < 0 || planned % 4 != 0) return TFL_ERR_PLAN_MISMATCH;
    *at = (uint32_t)planned;
  } else {
    *at = ((uint32_t)ctx->arena_used + 15u) & ~15u;
  }
  if (*at > (uint32_t)ctx->mem.arena_bytes ||
      (uint32_t)bytes > (uint32_t)ctx->mem.arena_bytes - *at) {
    return TFL_ERR_ARENA_TOO_SMALL;
  }
  if ((int32_t)(*at + (uint32_t)bytes) > ctx->arena_used) {
    ctx->arena_used = (int32_t)(*at + (uint32_t)bytes);
  }
  return TFL_OK;
}

tfl_status tfl_scratch_request(tfl_context *ctx, const tfl_node *node, int32_t bytes,
                               int32_t *offset) {
  if (ctx == NULL || node == NULL || offset == NULL) return TFL_ERR_NULL_ARGUMENT;
  *offset = 0;
  if (bytes <= 0) return TFL_ERR_BAD_ARGUMENT;
  const int32_t op = (int32_t)(node - ctx->mem.nodes);
  if (op < 0 || op >= ctx->node_count) return TFL_ERR_BAD_ARGUMENT;
  uint32_t at;
  /* without scratch entries in the plan (offsets_count == tensors) the entry is out of range */
  TFL_ENSURE(arena_place(ctx, ctx->tensor_count + op, bytes, &at));
  *offset = (int32_t)at;
  return TFL_OK;
}

tfl_status tfl_option_string(const tfl_context *ctx, const tfl_node *node, int field,
                             const uint8_t **s, uint32_t *len) {
  if (ctx == NULL || node == NULL || s == NULL || len == NULL) return TFL_ERR_NULL_ARGUMENT;
  *s = NULL;
  *len = 0;
  if (node->options_offset == 0) return TFL_OK;
  tfl_fb fb = model_fb(ctx);
  uint32_t data, n;
  uint32_t pos;
  TFL_ENSURE(tfl_fb_field(&fb, node->options_offset, field, 4, &pos));
  if (pos == 0) return TFL_OK;
  TFL_ENSURE(tfl_fb_vector(&fb, node->options_offset, field, 1, &data, &n));
  *s = ctx->model + data;
  *len = n;
  return TFL_OK;
}

/* ---- resource variables ----------------------------------------------------------------- */

static int same_bytes(const uint8_t *a, uint32_t a_len, const uint8_t *b, uint32_t b_len) {
  return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

tfl_status tfl_resource_id(tfl_context *ctx, const uint8_t *container, uint32_t container_len,
                           const uint8_t *shared_name, uint32_t shared_name_len, int32_t *id) {
  if (ctx == NULL || id == NULL) return TFL_ERR_NULL_ARGUMENT;
  *id = -1;
  for (int32_t r = 0; r < ctx->resource_count; ++r) {
    const tfl_resource *res = &ctx->resources[r];
    if ((container == NULL ||
         same_bytes(container, container_len, res->container, res->container_len)) &&
        same_bytes(shared_name, shared_name_len, res->shared_name, res->shared_name_len)) {
      *id = r;
      return TFL_OK;
    }
  }
  if (ctx->resource_count >= TFL_MAX_RESOURCES) return TFL_ERR_TOO_MANY_RESOURCES;
  tfl_resource *res = &ctx->resources[ctx->resource_count];
  memset(res, 0, sizeof *res);
  res->container = container;
  res->container_len = container_len;
  res->shared_name = shared_name;
  res->shared_name_len = shared_name_len;
  *id = ctx->resource_count++;
  return TFL_OK;
}

tfl_resource *tfl_resource_at(tfl_context *ctx, int32_t id) {
  if (ctx == NULL || id < 0 || id >= ctx->resource_count) return NULL;
  return &ctx->resources[id];
}

tfl_status tfl_resource_bind(tfl_context *ctx, int32_t id, const tfl_tensor *value) {
  if (ctx == NULL || value == NULL) return TFL_ERR_NULL_ARGUMENT;
  tfl_resource *res = tfl_resource_at(ctx, id);
  if (res == NULL) return TFL_ERR_MODEL_INVALID;
  if (value->bytes <= 0) return TFL_ERR_BAD_SHAPE;
  if (res->data != NULL) return res->bytes == value->bytes ? TFL_OK : TFL_ERR_BAD_SHAPE;
  uint32_t at;
  /* resource entries follow the tensors' and the operators' */
  TFL_ENSURE(arena_place(ctx, ctx->tensor_count + ctx->node_count + id, value->bytes, &at));
  res->data = ctx->mem.arena + at;
  res->bytes = value->bytes;
  /* TFLM: a quantized value's variable starts at its zero point's low byte, others at 0 */
  res->initial = value->quant_count > 0 ? (uint8_t)value->zero_point : 0;
  memset(res->data, res->initial, (size_t)res->bytes);
  return TFL_OK;
}
