/* Status codes of every fallible runtime call, generated from one X-macro list so the enum and
 * its message table cannot drift apart. */
#ifndef TFL_STATUS_H
#define TFL_STATUS_H

#include "tfl_config.h"

#define TFL_STATUS_LIST(X)                                                                      \
  X(TFL_OK, "ok")                                                                               \
  X(TFL_ERR_NULL_ARGUMENT, "a required pointer argument is NULL")                               \
  X(TFL_ERR_MODEL_TRUNCATED, "model bytes end before an offset, vector or table they point to") \
  X(TFL_ERR_MODEL_IDENTIFIER, "model is not a TFLite flatbuffer (identifier is not TFL3)")      \
  X(TFL_ERR_MODEL_VERSION, "unsupported TFLite schema version (expected 3)")                    \
  X(TFL_ERR_MODEL_INVALID, "model structure is invalid (index, count or layout out of range)")  \
  X(TFL_ERR_SUBGRAPH_COUNT, "model has no subgraph or more than TFL_MAX_SUBGRAPHS")             \
  X(TFL_ERR_UNSUPPORTED_OP, "operator has no kernel in this firmware's op table")               \
  X(TFL_ERR_UNSUPPORTED_TYPE, "tensor type not supported by this kernel")                       \
  X(TFL_ERR_UNSUPPORTED_OPTION, "operator option not supported by this kernel")                 \
  X(TFL_ERR_BAD_SHAPE, "tensor shapes do not fit the operator")                                 \
  X(TFL_ERR_BAD_QUANTIZATION, "tensor quantization parameters do not fit the operator")         \
  X(TFL_ERR_BAD_BUFFER, "constant tensor buffer is missing or has the wrong size")              \
  X(TFL_ERR_TOO_MANY_TENSORS, "model has more tensors than the caller's tensor array")          \
  X(TFL_ERR_TOO_MANY_OPS, "model has more operators than the caller's node array")              \
  X(TFL_ERR_ARENA_TOO_SMALL, "activation arena is too small for the memory plan")               \
  X(TFL_ERR_POOL_TOO_SMALL, "per-channel parameter pool is too small")                          \
  X(TFL_ERR_PLAN_MISMATCH, "memory plan does not match the model")                              \
  X(TFL_ERR_NOT_READY, "interpreter was not initialised successfully")                          \
  X(TFL_ERR_BAD_ARGUMENT, "argument out of range")                                              \
  X(TFL_ERR_HOOK, "the per-op hook asked to stop")                                              \
  X(TFL_ERR_TOO_MANY_RESOURCES, "model has more resource variables than TFL_MAX_RESOURCES")

typedef enum {
#define TFL_STATUS_ENUM(name, text) name,
  TFL_STATUS_LIST(TFL_STATUS_ENUM)
#undef TFL_STATUS_ENUM
      TFL_STATUS_COUNT
} tfl_status;

/* Returns the status of `expr` from the enclosing function when it is not TFL_OK (evaluates
 * expr once). */
#define TFL_ENSURE(expr)                                         \
  do {                                                           \
    const tfl_status tfl_ensure_status_ = (expr);                \
    if (tfl_ensure_status_ != TFL_OK) return tfl_ensure_status_; \
  } while (0)

/* Text of a status; "" when built with TFL_WITH_MESSAGES=0. Never NULL. */
const char *tfl_status_message(tfl_status status);
/* Enum name of a status ("TFL_ERR_BAD_SHAPE"); "" when built with TFL_WITH_MESSAGES=0. */
const char *tfl_status_name(tfl_status status);

#endif
