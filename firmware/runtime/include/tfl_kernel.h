/* What kernels see: tensor and option access with bounds checks, and the integer arithmetic of
 * TFLite's quantization spec. Included only by the runtime's own sources. */
#ifndef TFL_KERNEL_H
#define TFL_KERNEL_H

#include <string.h>

#include "tfl_runtime.h"

/* ---- operators' tensors ------------------------------------------------------------- */

/* Tensor of input `i` of `node`; NULL when the input is absent (-1) or i is out of range.
 * Indices were validated by tfl_init. */
tfl_tensor *tfl_node_input(tfl_context *ctx, const tfl_node *node, int32_t i);
tfl_tensor *tfl_node_output(tfl_context *ctx, const tfl_node *node, int32_t i);

/* Elements of a tensor (product of dims; 1 for a scalar). */
int32_t tfl_tensor_elements(const tfl_tensor *t);
/* Dimension d counted from the front; 1 when d >= dims_count. */
int32_t tfl_dim(const tfl_tensor *t, int32_t d);
/* Scale of channel c (per-channel tensors) or the tensor's scale. */
float tfl_tensor_channel_scale(const tfl_tensor *t, int32_t c);
int32_t tfl_tensor_channel_zero_point(const tfl_tensor *t, int32_t c);
/* 1 when both tensors have the same rank and dims. */
int tfl_same_shape(const tfl_tensor *a, const tfl_tensor *b);

/* ---- prepare prologue and eval access (src/kernels/tfl_kernel_io.c) ------------------- */
/* A set of tensor types for tfl_prepare_tensors. */
#define TFL_TYPE_BIT(type) (1u << (unsigned)(type))
#define TFL_TYPES_INT8 TFL_TYPE_BIT(TFL_TYPE_INT8)
#define TFL_TYPES_INDEX (TFL_TYPE_BIT(TFL_TYPE_INT32) | TFL_TYPE_BIT(TFL_TYPE_INT64))
/* int16 when the runtime has its 16x8 paths (TFL_WITH_INT16), else no type. */
#define TFL_TYPES_INT16 (TFL_WITH_INT16 ? TFL_TYPE_BIT(TFL_TYPE_INT16) : 0u)
/* int8 or int16 (16x8): the data-movement kernels copy either. */
#define TFL_TYPES_COPY (TFL_TYPES_INT8 | TFL_TYPES_INT16)
/* 1 when t holds int16 (16x8) data and the runtime has its 16x8 paths: a constant 0 with
 * TFL_WITH_INT16 0, so the int16 branch of a prepare and the int16 kernel it selects fold away. */
#define TFL_IS_INT16(t) (TFL_WITH_INT16 && (t)->type == TFL_TYPE_INT16)

/* The tensors most prepares start with: input 0 (*in, int8; or int16 when `out_types` has
 * int16: the 16x8 kernels), output 0 (*out, one of
 * `out_types`) and, when `param` is not NULL, input 1 (*param, one of `param_types`: a second
 * operand, axes, a shape...). TFL_ERR_MODEL_INVALID when one of them is absent, then
 * TFL_ERR_UNSUPPORTED_TYPE when a type is not accepted. */
TFL_MUST_CHECK tfl_status tfl_prepare_tensors(tfl_context *ctx, const tfl_node *node,
                                              unsigned out_types, unsigned param_types,
                                              const tfl_tensor **in, const tfl_tensor **param,
                                              const tfl_tensor **out);
/* The tensors of a copy that moves int8, int16 or int32 elements (SLICE): input 0 (*in),
 * output 0 (*out) of the same type, one that tfl_copy_bytes_int32 knows, and input 1 (*param,
 * one of `param_types`). TFL_ERR_MODEL_INVALID when one is absent, then
 * TFL_ERR_UNSUPPORTED_TYPE. */
TFL_MUST_CHECK tfl_status tfl_prepare_copy_tensors(tfl_context *ctx, const tfl_node *node,
                                                   unsigned param_types, const tfl_tensor **in,
                                                   const tfl_tensor **param,
                                                   const tfl_tensor **out);
/* The tensors of QUANTIZE and DEQUANTIZE: input 0 (*in) and output 0 (*out), present
 * (TFL_ERR_MODEL_INVALID) and with the same element count (TFL_ERR_BAD_SHAPE); the caller checks
 * their types. */
TFL_MUST_CHECK tfl_status tfl_prepare_cast_tensors(tfl_context *ctx, const tfl_node *node,
                                                   const tfl_tensor **in, const tfl_tensor **out);
/* Element i of quantized data of `type`: int8, uint8, else int16 (the caller checked the type). */
static inline int32_t tfl_load_quantized(const void *base, int32_t type, int32_t i) {
  if (type == TFL_TYPE_INT8) return ((const int8_t *)base)[i];
  if (type == TFL_TYPE_UINT8) return ((const uint8_t *)base)[i];
  return ((const int16_t *)base)[i];
}
/* Product of the dims of t before `axis` (*outer) and after it (*inner). */
void tfl_axis_split(const tfl_tensor *t, int32_t axis, int32_t *outer, int32_t *inner);
/* Normalizes *axis (negative counts from the back) against `rank`; TFL_ERR_BAD_ARGUMENT when
 * it is outside [-rank, rank). */
TFL_MUST_CHECK tfl_status tfl_axis_normalize(int32_t *axis, int32_t rank);

/* The end of a prepare that fills a local op data struct: it is copied to node->data (the
 * kernel's TFL_OP_DATA_FITS checked the size). */
static inline tfl_status tfl_node_set_data(tfl_node *node, const void *data, size_t bytes) {
  memcpy(node->data, data, bytes);
  return TFL_OK;
}

/* Eval's access to int8 data (prepare checked the types): input i's and output i's bytes. */
static inline const int8_t *tfl_input_i8(tfl_context *ctx, const tfl_node *node, int32_t i) {
  return (const int8_t *)tfl_node_input(ctx, node, i)->data;
}
static inline int8_t *tfl_output_i8(tfl_context *ctx, const tfl_node *node, int32_t i) {
  return (int8_t *)tfl_node_output(ctx, node, i)->data;
}

/* Eval's view of a one-input, one-output int8 op (the data-movement kernels): input 0 and
 * output 0 with their bytes. */
typedef struct tfl_io_i8 {
  const tfl_tensor *in;
  const tfl_tensor *out;
  const int8_t *x;
  int8_t *y;
} tfl_io_i8;
static inline tfl_io_i8 tfl_io_i8_of(tfl_context *ctx, const tfl_node *node) {
  tfl_io_i8 io;
  io.in = tfl_node_input(ctx, node, 0);
  io.out = tfl_node_output(ctx, node, 0);
  io.x = (const int8_t *)io.in->data;
  io.y = (int8_t *)io.out->data;
  return io;
}

/* ---- builtin options (flatbuffer table fields, bounds-checked) ----------------------- */
/* `field` is the field's index in the options table of schema.fbs (0-based, in declaration
 * order). Absent fields give `dflt` (tfl_option_bool: 0 or 1, `dflt != 0`). */
TFL_MUST_CHECK tfl_status tfl_option_i8(const tfl_context *ctx, const tfl_node *node, int field,
                                        int8_t dflt, int8_t *out);
TFL_MUST_CHECK tfl_status tfl_option_bool(const tfl_context *ctx, const tfl_node *node, int field,
                                          int dflt, int *out);
TFL_MUST_CHECK tfl_status tfl_option_i32(const tfl_context *ctx, const tfl_node *node, int field,
                                         int32_t dflt, int32_t *out);
TFL_MUST_CHECK tfl_status tfl_option_f32(const tfl_context *ctx, const tfl_node *node, int field,
                                         float dflt, float *out);
/* A [int] vector field: *count elements copied into out (at most capacity);
 * count = 0 when absent; TFL_ERR_BAD_ARGUMENT when longer than capacity. */
TFL_MUST_CHECK tfl_status tfl_option_i32_vector(const tfl_context *ctx, const tfl_node *node,
                                                int field, int32_t *out, int32_t capacity,
                                                int32_t *count);

/* A string field (flatbuffer string, bytes not NUL-terminated): *s = NULL, *len = 0 when absent. */
TFL_MUST_CHECK tfl_status tfl_option_string(const tfl_context *ctx, const tfl_node *node, int field,
                                            const uint8_t **s, uint32_t *len);

/* ---- subgraphs and resource variables ------------------------------------------------- */
/* Runs every operator of subgraph `index` (control-flow kernels). TFL_ERR_MODEL_INVALID when the
 * index is out of range or the subgraph is already running (no recursion). */
TFL_MUST_CHECK tfl_status tfl_invoke_subgraph(tfl_context *ctx, int32_t index);
/* Resource id of the variable named by (container, shared_name), created when new; an absent
 * container matches any (as TFLM). TFL_ERR_TOO_MANY_RESOURCES past TFL_MAX_RESOURCES. */
TFL_MUST_CHECK tfl_status tfl_resource_id(tfl_context *ctx, const uint8_t *container,
                                          uint32_t container_len, const uint8_t *shared_name,
                                          uint32_t shared_name_len, int32_t *id);
/* Binds storage for resource `id` the size of `value` (first call; later calls must give the same
 * size, else TFL_ERR_BAD_SHAPE): the plan's offset for it, or the next free arena bytes without a
 * plan; filled with its initial value. */
TFL_MUST_CHECK tfl_status tfl_resource_bind(tfl_context *ctx, int32_t id, const tfl_tensor *value);
/* Resource `id`, NULL when out of range. */
tfl_resource *tfl_resource_at(tfl_context *ctx, int32_t id);

/* ---- per-channel parameter pool ------------------------------------------------------ */
TFL_MUST_CHECK tfl_status tfl_pool_alloc(tfl_context *ctx, int32_t words, int32_t **out);

/* ---- scratch memory ------------------------------------------------------------------ */
/* Called in prepare: `bytes` (> 0) of the arena for this operator's eval only (the plan places
 * it like a tensor that lives during this op alone). *offset is the arena offset to pass to
 * tfl_scratch in eval. TFL_ERR_PLAN_MISMATCH when the plan has no scratch entry for the op,
 * TFL_ERR_ARENA_TOO_SMALL when it does not fit. */
TFL_MUST_CHECK tfl_status tfl_scratch_request(tfl_context *ctx, const tfl_node *node, int32_t bytes,
                                              int32_t *offset);
/* The scratch memory at `offset` (from tfl_scratch_request), 4-byte aligned. */
static inline void *tfl_scratch(tfl_context *ctx, int32_t offset) {
  return ctx->mem.arena + offset;
}

/* ---- integer arithmetic (TFLite quantization spec, TFLM reference rounding) ---------- */

/* TFLite fused activation codes (ActivationFunctionType). */
enum {
  TFL_ACT_NONE = 0,
  TFL_ACT_RELU = 1,
  TFL_ACT_RELU_N1_TO_1 = 2,
  TFL_ACT_RELU6 = 3,
  TFL_ACT_TANH = 4,
  TFL_ACT_SIGN_BIT = 5
};
/* Padding codes. */
enum { TFL_PADDING_SAME = 0, TFL_PADDING_VALID = 1 };

/* Splits a positive real multiplier into a Q31 value and a power-of-two exponent
 * (frexp, round half away from zero; exponents below -31 give 0). */
void tfl_quantize_multiplier(double real, int32_t *quantized, int32_t *shift);

/* roundf() without libm (prepare-time float arithmetic as TFLM's): half away from zero; NaN and
 * |f| >= 2^23 pass through. */
float tfl_round_half_away_f(float f);

/* x * quantized * 2^shift with TFLM's rounding: saturating rounding doubling high multiply,
 * then rounding divide by a power of two. */
int32_t tfl_multiply_by_quantized_multiplier(int32_t x, int32_t quantized, int32_t shift);
int32_t tfl_saturating_rounding_doubling_high_mul(int32_t a, int32_t b);
int32_t tfl_rounding_divide_by_pot(int32_t x, int32_t exponent);

/* Quantized clamp range of a fused activation for an output with this scale/zero point and
 * storage type range [qmin, qmax]. TFL_ERR_UNSUPPORTED_OPTION for TANH/SIGN_BIT. */
TFL_MUST_CHECK tfl_status tfl_activation_range(int32_t activation, float scale, int32_t zero_point,
                                               int32_t qmin, int32_t qmax, int32_t *act_min,
                                               int32_t *act_max);

/* SAME/VALID output size and the padding before the first element (TFLite's formulas). */
int32_t tfl_conv_output_size(int32_t padding, int32_t in, int32_t filter, int32_t stride,
                             int32_t dilation);
int32_t tfl_conv_padding(int32_t stride, int32_t dilation, int32_t in, int32_t filter, int32_t out);

static inline int32_t tfl_clamp(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}
static inline int32_t tfl_min(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t tfl_max(int32_t a, int32_t b) { return a > b ? a : b; }

/* Declares a kernel object `tfl_kernel_<lower>` for builtin `code`. */
#define TFL_DEFINE_KERNEL(lower, code, text, prepare_fn, eval_fn) \
  const tfl_kernel tfl_kernel_##lower = {code, text, prepare_fn, eval_fn, NULL}
/* The prepare of kernel `lower` alone, as `tfl_prepare_<lower>`: ahead-of-time layers (tfl_aot.h)
 * run it before their own eval, so a firmware whose every such operator is specialised links
 * neither the kernel object nor its eval. */
#define TFL_DEFINE_PREPARE(lower, prepare_fn)                        \
  tfl_status tfl_prepare_##lower(tfl_context *ctx, tfl_node *node);  \
  tfl_status tfl_prepare_##lower(tfl_context *ctx, tfl_node *node) { \
    return prepare_fn(ctx, node);                                    \
  }                                                                  \
  tfl_status tfl_prepare_##lower(tfl_context *ctx, tfl_node *node)
/* The same for a kernel that keeps state between invokes and resets it with reset_fn. */
#define TFL_DEFINE_KERNEL_RESET(lower, code, text, prepare_fn, eval_fn, reset_fn) \
  const tfl_kernel tfl_kernel_##lower = {code, text, prepare_fn, eval_fn, reset_fn}

/* An int16 eval for a kernel object: NULL with TFL_WITH_INT16 0 (still named, so a static eval
 * raises no unused warning, but neither it nor what it calls is linked). */
#define TFL_EVAL16(eval_fn) (TFL_WITH_INT16 ? (eval_fn) : NULL)
/* The int16 (16x8) variant of a kernel: a file-local kernel object `var` with the same code,
 * name and prepare and the int16 eval. The kernel's prepare selects it once for a node with
 * int16 activations (node->kernel = &var, behind TFL_IS_INT16), so eval never tests the type.
 * Declares prepare_fn. */
#define TFL_DEFINE_KERNEL16(var, code, text, prepare_fn, eval_fn) \
  static tfl_status prepare_fn(tfl_context *ctx, tfl_node *node); \
  static const tfl_kernel var = {code, text, prepare_fn, TFL_EVAL16(eval_fn), NULL}

/* Element bytes of the types the data-movement kernels copy unchanged: 1 (int8), 2 (int16,
 * 16x8 activations), 0 for any other type. */
static inline int32_t tfl_copy_bytes(int32_t type) {
  return type == TFL_TYPE_INT8 ? 1 : (type == TFL_TYPE_INT16 ? 2 : 0);
}

/* Element bytes of the types CONCATENATION, PACK, SLICE and STRIDED_SLICE copy unchanged
 * (TFLM runs their int32 forms too, on shape vectors): tfl_copy_bytes, or 4 for int32. */
static inline int32_t tfl_copy_bytes_int32(int32_t type) {
  return type == TFL_TYPE_INT32 ? 4 : tfl_copy_bytes(type);
}

/* Compile-time check that a kernel's data struct fits in tfl_node.data. */
#define TFL_OP_DATA_FITS(type) \
  typedef char tfl_op_data_fits_##type[(sizeof(type) <= sizeof(((tfl_node *)0)->data)) ? 1 : -1]

#endif
