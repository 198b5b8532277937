/* tinyflash runtime: runs a full-int8 TFLite flatbuffer from a C array in caller-owned memory.
 *
 * Memory is all the caller's: the interpreter struct, the tensor and node arrays, the pool for
 * per-channel parameters and the activation arena. Their sizes come from `tinyflash generate`
 * (the memory plan); tfl_init checks every one of them and fails rather than overrun.
 * A model may have several subgraphs (at most TFL_MAX_SUBGRAPHS): tfl_invoke runs subgraph 0,
 * control-flow operators (CALL_ONCE) run the others. The tensor and node arrays hold every
 * subgraph's tensors and operators one subgraph after another (global index = the subgraph's
 * base + the index inside it). */
#ifndef TFL_RUNTIME_H
#define TFL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "tfl_config.h"
#include "tfl_patches.h"
#include "tfl_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TFL_RUNTIME_VERSION "0.1.0"

/* TFLite TensorType codes (schema.fbs). */
typedef enum {
  TFL_TYPE_FLOAT32 = 0,
  TFL_TYPE_FLOAT16 = 1,
  TFL_TYPE_INT32 = 2,
  TFL_TYPE_UINT8 = 3,
  TFL_TYPE_INT64 = 4,
  TFL_TYPE_STRING = 5,
  TFL_TYPE_BOOL = 6,
  TFL_TYPE_INT16 = 7,
  TFL_TYPE_COMPLEX64 = 8,
  TFL_TYPE_INT8 = 9,
  TFL_TYPE_RESOURCE = 13
} tfl_type;

/* is_constant of int8 weights stored compressed in the model (a blob, tfl_kernel_wz.h): only
 * the kernels that decode them read their data. */
#define TFL_CONSTANT_COMPRESSED 2

/* One tensor. `data` points into the model (constants) or into the arena. */
typedef struct tfl_tensor {
  void *data;
  int32_t bytes; /* element count * element size */
  int32_t dims[TFL_MAX_DIMS];
  uint8_t dims_count;
  uint8_t type;        /* tfl_type */
  uint8_t is_constant; /* 1: data is read-only model bytes; 2: compressed int8 weights (blob) */
  uint8_t is_variable; /* 1: state kept between invokes (zeroed by tfl_init, tfl_reset_variables) */
  /* Quantization: scale/zero_point of channel 0 (or of the tensor). Per-channel scales stay in
   * the model; read them with tfl_tensor_channel_scale(). quant_count == 0: not quantized. */
  float scale;
  int32_t zero_point;
  int32_t quant_count;           /* number of scales (1 = per-tensor, >1 = per-channel) */
  int32_t quant_dim;             /* quantized_dimension */
  const uint8_t *scales_le;      /* quant_count little-endian float32 values inside the model */
  const uint8_t *zero_points_le; /* quant_count little-endian int64 values inside the model */
} tfl_tensor;

/* One operator. `data` holds the kernel's parameters, computed in prepare. */
typedef struct tfl_node {
  const uint8_t *inputs_le;  /* input_count little-endian int32 tensor indices (-1 = absent) */
  const uint8_t *outputs_le; /* output_count little-endian int32 tensor indices */
  int32_t input_count;
  int32_t output_count;
  uint32_t options_offset; /* offset of the builtin options table in the model, 0 = none */
  int32_t builtin_code;    /* TFLite BuiltinOperator */
  int16_t options_type;    /* BuiltinOptions union type (a ubyte in the schema) */
  int16_t subgraph;        /* the subgraph it belongs to: its tensor indices are local to it */
  const struct tfl_kernel *kernel;
  int32_t data[TFL_OP_DATA_WORDS]; /* kernel-private, see each op_*.c */
} tfl_node;

struct tfl_interpreter;
typedef struct tfl_interpreter tfl_context;

/* A kernel: prepare validates types, shapes and quantization and fills node->data;
 * eval computes and may assume prepare succeeded. reset (optional, NULL for most kernels)
 * returns per-node state kept between invokes to its state after prepare
 * (tfl_reset_variables). */
typedef struct tfl_kernel {
  int32_t builtin_code;
  const char *name; /* "CONV_2D" */
  tfl_status (*prepare)(tfl_context *ctx, tfl_node *node);
  tfl_status (*eval)(tfl_context *ctx, tfl_node *node);
  void (*reset)(tfl_context *ctx, tfl_node *node);
} tfl_kernel;

/* One subgraph: its tensors are tensors[tensor_base .. tensor_base + tensor_count), its
 * operators nodes[node_base .. node_base + node_count). */
typedef struct tfl_subgraph {
  int32_t tensor_base;
  int32_t tensor_count;
  int32_t node_base;
  int32_t node_count;
  const uint8_t *inputs_le; /* input_count little-endian int32 local tensor indices */
  const uint8_t *outputs_le;
  int32_t input_count;
  int32_t output_count;
  uint8_t running; /* 1 while its operators run: a subgraph never calls itself */
} tfl_subgraph;

/* One resource variable (VAR_HANDLE container/shared_name): storage in the arena that the plan
 * never lends to a tensor, bound by the first ASSIGN_VARIABLE's prepare. */
typedef struct tfl_resource {
  const uint8_t *container; /* bytes inside the model, not NUL-terminated; NULL = absent */
  const uint8_t *shared_name;
  uint32_t container_len;
  uint32_t shared_name_len;
  uint8_t *data; /* NULL until bound */
  int32_t bytes;
  uint8_t initial; /* byte value it starts at (the zero point of an int8 value) */
} tfl_resource;

/* The kernels a firmware links: generated with only the model's ops. `node_kernels` (NULL:
 * none; `generate --aot`) gives operator i of subgraph 0 its own kernel, a layer specialised at
 * generate time, when node_kernels[i] is not NULL and has the operator's builtin code; the others
 * take `kernels`' entry for their code. */
typedef struct tfl_op_table {
  const tfl_kernel *const *kernels;
  int32_t count;
  const tfl_kernel *const *node_kernels;
  int32_t node_kernel_count;
} tfl_op_table;

/* Caller-owned memory. `offsets` is the memory plan: one arena byte offset per tensor
 * (-1 for constants and unused tensors), followed, when a kernel of the firmware
 * takes scratch memory (the DSP kernels' im2col patches), by one entry per operator: the arena
 * offset of its scratch, -1 for none (offsets_count = tensors + operators). offsets == NULL: the
 * runtime lays out every activation and scratch one after another (no reuse; for tests and
 * fuzzing). Tensors and operators are counted over all subgraphs. A model with resource
 * variables has both sections and then one entry per resource variable (in the order their
 * VAR_HANDLEs are first prepared): offsets_count = tensors + operators + resources.
 * patches: NULL, or the prefix run tile by tile (tfl_patches.h; needs offsets). */
typedef struct tfl_memory {
  tfl_tensor *tensors;
  int32_t tensor_capacity;
  tfl_node *nodes;
  int32_t node_capacity;
  int32_t *pool; /* per-channel multipliers and shifts */
  int32_t pool_words;
  uint8_t *arena; /* 16-byte aligned */
  int32_t arena_bytes;
  const int32_t *offsets;
  int32_t offsets_count;
  const tfl_patch_plan *patches;
} tfl_memory;

/* Called after each operator during tfl_invoke when set (per-layer dumps, per-op timing).
 * Returning anything but TFL_OK stops the invoke with TFL_ERR_HOOK. With a patch plan the prefix's
 * operators run tile by tile and the hook is called once, after its last operator (the tensors
 * between them hold one tile). */
typedef tfl_status (*tfl_op_hook)(void *user, tfl_context *ctx, int32_t op_index,
                                  const tfl_node *node);

struct tfl_interpreter {
  const uint8_t *model;
  uint32_t model_size;
  tfl_memory mem;
  int32_t tensor_count; /* over all subgraphs */
  int32_t node_count;
  int32_t pool_used;
  int32_t arena_used; /* highest arena byte touched by the plan (tensors and scratch) */
  const uint8_t *inputs_le;
  const uint8_t *outputs_le;
  int32_t input_count;
  int32_t output_count;
  int32_t error_op; /* operator index of the last error, -1 if none */
  tfl_subgraph subgraphs[TFL_MAX_SUBGRAPHS];
  int32_t subgraph_count;
  tfl_resource resources[TFL_MAX_RESOURCES];
  int32_t resource_count;
  uint8_t ready;
  tfl_op_hook hook;
  void *hook_user;
};
typedef struct tfl_interpreter tfl_interpreter;

/* Parses and validates `model`, binds tensors to the plan and runs every kernel's prepare.
 * On failure it->error_op names the operator (or -1). */
TFL_MUST_CHECK tfl_status tfl_init(tfl_interpreter *it, const uint8_t *model, size_t model_size,
                                   const tfl_op_table *ops, const tfl_memory *mem);

/* Runs every operator of subgraph 0 in order. */
TFL_MUST_CHECK tfl_status tfl_invoke(tfl_interpreter *it);

/* Zeroes every variable tensor (recurrent state such as an LSTM's hidden and cell state, SVDF's
 * activation state), returns every resource variable to its initial value and re-arms every
 * CALL_ONCE, as tfl_init leaves them: the next invoke starts a new sequence exactly as the first
 * invoke after tfl_init does (the init subgraph runs again). */
TFL_MUST_CHECK tfl_status tfl_reset_variables(tfl_interpreter *it);

int32_t tfl_input_count(const tfl_interpreter *it);
int32_t tfl_output_count(const tfl_interpreter *it);
/* NULL when index is out of range or the interpreter is not ready. */
tfl_tensor *tfl_input(tfl_interpreter *it, int32_t index);
tfl_tensor *tfl_output(tfl_interpreter *it, int32_t index);
tfl_tensor *tfl_tensor_at(tfl_interpreter *it, int32_t tensor_index);

/* Builtin-code name from the kernel table entry, or "?" */
const char *tfl_op_name(const tfl_node *node);

/* Size the caller must provide: counts (over all subgraphs) read from the model header without
 * running prepare. */
TFL_MUST_CHECK tfl_status tfl_model_counts(const uint8_t *model, size_t model_size,
                                           int32_t *tensor_count, int32_t *op_count);

#ifdef __cplusplus
}
#endif
#endif
