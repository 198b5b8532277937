// TensorFlow Lite Micro behind the verification server's backend contract (tfl_server.h; what a
// host sees differently is in tfl_tflm_harness.h). No protocol code here: frames, requests, the
// banner and the self-test are firmware/harness's tfl_server.c. Written against TFLM's
// documented public API: tflite::GetModel, tflite::MicroInterpreter (AllocateTensors, Invoke,
// input, output, inputs_size, outputs_size, arena_used_bytes) and TfLiteTensor's
// type/bytes/dims/params.
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <new>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tfl_tflm_harness.h"

namespace {

struct Backend {
  const tfl_tflm_config *cfg;
  tflite::MicroInterpreter *it;       // lives in g_storage, rebuilt by tfl_backend_init()
  int32_t dims[TFL_BACKEND_MAX_DIMS]; // the last tensor's dims (TfLiteIntArray holds int)
};

Backend g_backend;
alignas(tflite::MicroInterpreter) uint8_t g_storage[sizeof(tflite::MicroInterpreter)];

// TfLiteType -> TFLite schema TensorType code (what the protocol carries); 255: no mapping.
uint8_t schema_type(TfLiteType type) {
  switch (type) {
    case kTfLiteFloat32:
      return 0;
    case kTfLiteFloat16:
      return 1;
    case kTfLiteInt32:
      return 2;
    case kTfLiteUInt8:
      return 3;
    case kTfLiteInt64:
      return 4;
    case kTfLiteBool:
      return 6;
    case kTfLiteInt16:
      return 7;
    case kTfLiteInt8:
      return 9;
    default:
      return 255;
  }
}

TfLiteTensor *tensor_at(bool outputs, size_t i) {
  return outputs ? g_backend.it->output(i) : g_backend.it->input(i);
}

size_t tensor_count(bool outputs) {
  return outputs ? g_backend.it->outputs_size() : g_backend.it->inputs_size();
}

// Every input/output must exist, have data and a type the protocol can name.
bool tensors_usable() {
  for (int outputs = 0; outputs < 2; ++outputs) {
    size_t count = tensor_count(outputs != 0);
    if (count > 255u) {
      return false;
    }
    for (size_t i = 0; i < count; ++i) {
      const TfLiteTensor *t = tensor_at(outputs != 0, i);
      if (t == nullptr || t->data.raw == nullptr || schema_type(t->type) == 255) {
        return false;
      }
    }
  }
  return true;
}

} // namespace

extern "C" uint16_t tfl_backend_init(void) {
  Backend *b = &g_backend;
  const tfl_tflm_config *cfg = b->cfg;
  if (b->it != nullptr) {
    b->it->~MicroInterpreter();
    b->it = nullptr;
  }
  if (cfg == nullptr) {
    return TFL_TFLM_NULL_ARGUMENT;
  }
  if (cfg->resolver_status != 0 || cfg->resolver == nullptr) {
    return TFL_TFLM_OP_RESOLVER;
  }
  const tflite::Model *model = tflite::GetModel(cfg->model);
  if (model == nullptr || model->version() != TFLITE_SCHEMA_VERSION) {
    return TFL_TFLM_SCHEMA_VERSION;
  }
  b->it = new (g_storage) tflite::MicroInterpreter(model, *cfg->resolver, cfg->arena,
                                                   static_cast<size_t>(cfg->arena_bytes));
  if (b->it->AllocateTensors() != kTfLiteOk) {
    return TFL_TFLM_ALLOCATE_TENSORS;
  }
  return tensors_usable() ? TFL_TFLM_OK : TFL_TFLM_TENSOR;
}

extern "C" int32_t tfl_backend_error_op(void) { return -1; } // TFLM does not say which op

extern "C" const char *tfl_backend_status_name(uint16_t status) {
  switch (status) {
    case TFL_TFLM_OK:
      return "TFL_OK";
    case TFL_TFLM_NULL_ARGUMENT:
      return "TFL_ERR_NULL_ARGUMENT";
    case TFL_TFLM_OP_RESOLVER:
      return "TFL_TFLM_OP_RESOLVER";
    case TFL_TFLM_SCHEMA_VERSION:
      return "TFL_TFLM_SCHEMA_VERSION";
    case TFL_TFLM_ALLOCATE_TENSORS:
      return "TFL_TFLM_ALLOCATE_TENSORS";
    case TFL_TFLM_INVOKE:
      return "TFL_TFLM_INVOKE";
    case TFL_TFLM_TENSOR:
      return "TFL_TFLM_TENSOR";
    default:
      return "TFL_TFLM_UNKNOWN";
  }
}

extern "C" const char *tfl_backend_runtime(void) { return "tflm"; }

extern "C" int32_t tfl_backend_tensor_count(int outputs) {
  return static_cast<int32_t>(tensor_count(outputs != 0));
}

extern "C" int tfl_backend_get_tensor(int outputs, int32_t index, tfl_backend_tensor *t) {
  memset(t, 0, sizeof *t);
  const TfLiteTensor *src =
      index >= 0 ? tensor_at(outputs != 0, static_cast<size_t>(index)) : nullptr;
  if (src == nullptr) {
    return 0;
  }
  int dims = src->dims != nullptr ? src->dims->size : 0;
  dims = dims < 0 ? 0 : (dims > TFL_BACKEND_MAX_DIMS ? TFL_BACKEND_MAX_DIMS : dims);
  for (int d = 0; d < dims; ++d) {
    g_backend.dims[d] = static_cast<int32_t>(src->dims->data[d]);
  }
  t->data = reinterpret_cast<uint8_t *>(src->data.raw);
  t->bytes = static_cast<uint32_t>(src->bytes);
  t->dims = g_backend.dims;
  t->dims_count = static_cast<uint8_t>(dims);
  t->type = schema_type(src->type);
  t->zero_point = static_cast<int32_t>(src->params.zero_point);
  t->scale = src->params.scale;
  return 1;
}

extern "C" int32_t tfl_backend_op_count(void) {
  const tflite::Model *model = tflite::GetModel(g_backend.cfg->model);
  if (model->subgraphs() == nullptr || model->subgraphs()->size() == 0 ||
      model->subgraphs()->Get(0)->operators() == nullptr) {
    return 0;
  }
  return static_cast<int32_t>(model->subgraphs()->Get(0)->operators()->size());
}

extern "C" uint32_t tfl_backend_arena_used(void) {
  return static_cast<uint32_t>(g_backend.it->arena_used_bytes());
}

// TFLM's public API has no per-operator hook that could stream intermediate tensors.
extern "C" int tfl_backend_has_op_hook(void) { return 0; }

extern "C" uint16_t tfl_backend_invoke(int per_op) {
  (void)per_op;
  return g_backend.it->Invoke() == kTfLiteOk ? TFL_TFLM_OK : TFL_TFLM_INVOKE;
}

extern "C" void tfl_backend_op_info(tfl_backend_op *op) { // never called: no hook
  op->builtin_code = 0;
  op->name = "";
  op->output_count = 0;
}

extern "C" int32_t tfl_backend_op_output(int32_t o, tfl_backend_tensor *t) {
  (void)o;
  memset(t, 0, sizeof *t);
  return -1;
}

void tfl_tflm_harness_main(const tfl_tflm_config *config) {
  static tfl_server_config server;
  g_backend.cfg = config;
  if (config != nullptr) {
    server = {config->model_sha256, config->planned_arena_bytes, config->arena_bytes,
              config->selftest,     config->selftest_count,      config->board};
  }
  tfl_server_main(config != nullptr ? &server : nullptr);
}
