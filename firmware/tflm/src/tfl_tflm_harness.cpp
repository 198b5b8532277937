// The tinyflash verification protocol over TensorFlow Lite Micro (see tfl_tflm_harness.h for
// what differs from firmware/harness). Written against TFLM's documented public API:
// tflite::GetModel, tflite::MicroInterpreter (AllocateTensors, Invoke, input, output,
// inputs_size, outputs_size, arena_used_bytes, Reset) and TfLiteTensor's type/bytes/dims/params.
#include <new>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tfl_port.h"
#include "tfl_tflm_harness.h"

extern "C" {
#include "tfl_harness_internal.h"
}

#if TFL_HARNESS_MAX_PAYLOAD < 64
#error "TFL_HARNESS_MAX_PAYLOAD must be at least 64"
#endif

namespace {

struct State {
  const tfl_tflm_config *cfg;
  tflite::MicroInterpreter *it;  // lives in `storage`, rebuilt by init()
  uint16_t init_status;
  uint32_t in_total;
  uint32_t out_total;
  int32_t selftest_failed;
  uint8_t input_fresh;
  uint8_t have_result;
  int32_t last_seq;
  uint8_t last_type;
  uint32_t last_ticks;
  tfl_tx tx;
  tfl_rx rx;
  uint8_t rx_buf[TFL_RX_CAPACITY];
};

State g_state;
alignas(tflite::MicroInterpreter) uint8_t g_storage[sizeof(tflite::MicroInterpreter)];

const char *status_name(uint16_t status) {
  switch (status) {
    case TFL_TFLM_OK: return "TFL_OK";
    case TFL_TFLM_OP_RESOLVER: return "TFL_TFLM_OP_RESOLVER";
    case TFL_TFLM_SCHEMA_VERSION: return "TFL_TFLM_SCHEMA_VERSION";
    case TFL_TFLM_ALLOCATE_TENSORS: return "TFL_TFLM_ALLOCATE_TENSORS";
    case TFL_TFLM_INVOKE: return "TFL_TFLM_INVOKE";
    case TFL_TFLM_TENSOR: return "TFL_TFLM_TENSOR";
    default: return "TFL_TFLM_UNKNOWN";
  }
}

// TfLiteType -> TFLite schema TensorType code (what the protocol carries); 255: no mapping.
uint8_t schema_type(TfLiteType type) {
  switch (type) {
    case kTfLiteFloat32: return 0;
    case kTfLiteFloat16: return 1;
    case kTfLiteInt32: return 2;
    case kTfLiteUInt8: return 3;
    case kTfLiteInt64: return 4;
    case kTfLiteBool: return 6;
    case kTfLiteInt16: return 7;
    case kTfLiteInt8: return 9;
    default: return 255;
  }
}

void put_str(const char *s) {
  size_t n = strlen(s);
  if (n) {
    tfl_port_write(reinterpret_cast<const uint8_t *>(s), n);
  }
}

void put_i32(int32_t v) {
  char buf[12];
  int pos = static_cast<int>(sizeof buf);
  uint32_t u = v < 0 ? 0u - static_cast<uint32_t>(v) : static_cast<uint32_t>(v);
  do {
    buf[--pos] = static_cast<char>('0' + (u % 10u));
    u /= 10u;
  } while (u != 0 && pos > 1);
  if (v < 0) {
    buf[--pos] = '-';
  }
  tfl_port_write(reinterpret_cast<const uint8_t *>(buf) + pos, sizeof buf - static_cast<size_t>(pos));
}

uint8_t str_len8(const char *s) {
  size_t n = s != nullptr ? strlen(s) : 0u;
  return static_cast<uint8_t>(n > 255u ? 255u : n);
}

void tx_str(tfl_tx *tx, const char *s) {
  uint8_t n = str_len8(s);
  tfl_tx_u8(tx, n);
  if (n) {
    tfl_tx_bytes(tx, s, n);
  }
}

bool ready(const State *s) { return s->init_status == TFL_TFLM_OK && s->it != nullptr; }

size_t tensor_count(const State *s, bool outputs) {
  if (!ready(s)) {
    return 0;
  }
  return outputs ? s->it->outputs_size() : s->it->inputs_size();
}

TfLiteTensor *tensor_at(const State *s, bool outputs, size_t i) {
  return outputs ? s->it->output(i) : s->it->input(i);
}

uint32_t total_bytes(const State *s, bool outputs) {
  uint32_t total = 0;
  size_t count = tensor_count(s, outputs);
  for (size_t i = 0; i < count; ++i) {
    const TfLiteTensor *t = tensor_at(s, outputs, i);
    uint32_t bytes = t != nullptr ? static_cast<uint32_t>(t->bytes) : 0u;
    if (bytes > UINT32_MAX - total) {
      return UINT32_MAX;
    }
    total += bytes;
  }
  return total;
}

// Every input/output must exist, have data and a type the protocol can name.
bool tensors_usable(const State *s) {
  for (int outputs = 0; outputs < 2; ++outputs) {
    size_t count = tensor_count(s, outputs != 0);
    if (count > 255u) {
      return false;
    }
    for (size_t i = 0; i < count; ++i) {
      const TfLiteTensor *t = tensor_at(s, outputs != 0, i);
      if (t == nullptr || t->data.raw == nullptr || schema_type(t->type) == 255) {
        return false;
      }
    }
  }
  return true;
}

void init(State *s) {
  const tfl_tflm_config *cfg = s->cfg;
  if (s->it != nullptr) {
    s->it->~MicroInterpreter();
    s->it = nullptr;
  }
  s->in_total = 0;
  s->out_total = 0;
  s->input_fresh = 0;
  s->have_result = 0;
  if (cfg->resolver_status != 0 || cfg->resolver == nullptr) {
    s->init_status = TFL_TFLM_OP_RESOLVER;
    return;
  }
  const tflite::Model *model = tflite::GetModel(cfg->model);
  if (model == nullptr || model->version() != TFLITE_SCHEMA_VERSION) {
    s->init_status = TFL_TFLM_SCHEMA_VERSION;
    return;
  }
  s->it = new (g_storage) tflite::MicroInterpreter(model, *cfg->resolver, cfg->arena,
                                                    static_cast<size_t>(cfg->arena_bytes));
  if (s->it->AllocateTensors() != kTfLiteOk) {
    s->init_status = TFL_TFLM_ALLOCATE_TENSORS;
    return;
  }
  s->init_status = TFL_TFLM_OK;
  if (!tensors_usable(s)) {
    s->init_status = TFL_TFLM_TENSOR;
    return;
  }
  s->in_total = total_bytes(s, false);
  s->out_total = total_bytes(s, true);
}

uint32_t arena_used(const State *s) {
  return ready(s) ? static_cast<uint32_t>(s->it->arena_used_bytes()) : 0u;
}

uint32_t op_count(const State *s) {
  const tflite::Model *model = tflite::GetModel(s->cfg->model);
  if (!ready(s) || model->subgraphs() == nullptr || model->subgraphs()->size() == 0 ||
      model->subgraphs()->Get(0)->operators() == nullptr) {
    return 0;
  }
  return model->subgraphs()->Get(0)->operators()->size();
}

// Copies data into the inputs at `offset` of their concatenation; false when out of range.
bool write_inputs(State *s, uint32_t offset, const uint8_t *data, uint32_t len) {
  if (offset > s->in_total || len > s->in_total - offset) {
    return false;
  }
  uint32_t pos = 0;
  size_t count = tensor_count(s, false);
  for (size_t i = 0; i < count; ++i) {
    TfLiteTensor *t = tensor_at(s, false, i);
    uint32_t tb = static_cast<uint32_t>(t->bytes);
    // pos + tb <= in_total and offset + len <= in_total: no sum below overflows.
    if (tb != 0 && offset < pos + tb && offset + len > pos) {
      uint32_t lo = offset > pos ? offset : pos;
      uint32_t hi = (offset + len) < (pos + tb) ? (offset + len) : (pos + tb);
      memcpy(static_cast<uint8_t *>(t->data.data) + (lo - pos), data + (lo - offset), hi - lo);
    }
    pos += tb;
  }
  return true;
}

void tx_outputs(State *s) {
  size_t count = tensor_count(s, true);
  for (size_t i = 0; i < count; ++i) {
    const TfLiteTensor *t = tensor_at(s, true, i);
    if (t->bytes > 0) {
      tfl_tx_bytes(&s->tx, t->data.raw, t->bytes);
    }
  }
}

void tx_tensor_spec(tfl_tx *tx, const TfLiteTensor *t) {
  int dims = t->dims != nullptr ? t->dims->size : 0;
  if (dims < 0) {
    dims = 0;
  }
  if (dims > 8) {
    dims = 8;
  }
  tfl_tx_u8(tx, schema_type(t->type));
  tfl_tx_u8(tx, static_cast<uint8_t>(dims));
  for (int d = 0; d < dims; ++d) {
    tfl_tx_u32(tx, static_cast<uint32_t>(t->dims->data[d]));
  }
  uint32_t scale_bits;
  float scale = t->params.scale;
  memcpy(&scale_bits, &scale, sizeof scale_bits);
  tfl_tx_u32(tx, scale_bits);
  tfl_tx_u32(tx, static_cast<uint32_t>(t->params.zero_point));
  tfl_tx_u32(tx, static_cast<uint32_t>(t->bytes));
}

void banner_fields(State *s, int32_t count) {
  put_str(" vectors=");
  put_i32(count);
  put_str(" arena=");
  put_i32(static_cast<int32_t>(arena_used(s)));
}

// Runs every vector and prints the banner's self-test fields; the first failing vector or -1.
int32_t run_selftest(State *s) {
  const tfl_tflm_config *cfg = s->cfg;
  int32_t count = cfg->selftest != nullptr && cfg->selftest_count > 0 ? cfg->selftest_count : 0;
  for (int32_t v = 0; v < count; ++v) {
    const tfl_selftest_vector *vec = &cfg->selftest[v];
    if (vec->input_bytes != s->in_total || vec->output_bytes != s->out_total ||
        vec->input == nullptr || vec->expected_output == nullptr) {
      put_str("selftest=FAIL");
      banner_fields(s, count);
      put_str(" vector=");
      put_i32(v);
      put_str(" size=");
      put_i32(static_cast<int32_t>(vec->input_bytes));
      put_str("/");
      put_i32(static_cast<int32_t>(vec->output_bytes));
      return v;
    }
    (void)write_inputs(s, 0, vec->input, vec->input_bytes);
    if (s->it->Invoke() != kTfLiteOk) {
      put_str("selftest=FAIL");
      banner_fields(s, count);
      put_str(" vector=");
      put_i32(v);
      put_str(" status=TFL_TFLM_INVOKE op=-1");
      return v;
    }
    uint32_t pos = 0;
    size_t outputs = tensor_count(s, true);
    for (size_t o = 0; o < outputs; ++o) {
      const TfLiteTensor *t = tensor_at(s, true, o);
      const uint8_t *got = static_cast<const uint8_t *>(t->data.data);
      for (uint32_t b = 0; b < static_cast<uint32_t>(t->bytes); ++b) {
        if (got[b] != vec->expected_output[pos + b]) {
          put_str("selftest=FAIL");
          banner_fields(s, count);
          put_str(" vector=");
          put_i32(v);
          put_str(" byte=");
          put_i32(static_cast<int32_t>(pos + b));
          put_str(" got=");
          put_i32(static_cast<int8_t>(got[b]));
          put_str(" want=");
          put_i32(static_cast<int8_t>(vec->expected_output[pos + b]));
          return v;
        }
      }
      pos += static_cast<uint32_t>(t->bytes);
    }
  }
  put_str(count ? "selftest=PASS" : "selftest=NONE");
  banner_fields(s, count);
  return -1;
}

void send_error(State *s, uint8_t seq, uint8_t code, uint8_t req_type, uint16_t status,
                uint32_t detail) {
  const char *text = status != TFL_TFLM_OK ? status_name(status) : "";
  uint8_t n = str_len8(text);
  tfl_tx_begin(&s->tx, TFL_MSG_ERROR, seq, 13u + n);
  tfl_tx_u8(&s->tx, code);
  tfl_tx_u8(&s->tx, req_type);
  tfl_tx_u16(&s->tx, status);
  tfl_tx_u32(&s->tx, 0xFFFFFFFFu);  // op index: unknown with TFLM
  tfl_tx_u32(&s->tx, detail);
  tx_str(&s->tx, text);
  tfl_tx_end(&s->tx);
}

void info_payload(State *s) {
  const tfl_tflm_config *cfg = s->cfg;
  tfl_tx *tx = &s->tx;
  static const uint8_t zeros[32] = {0};
  size_t n_in = tensor_count(s, false);
  size_t n_out = tensor_count(s, true);
  tfl_tx_u8(tx, static_cast<uint8_t>(TFL_PROTO_VERSION));
  tfl_tx_bytes(tx, cfg->model_sha256 != nullptr ? cfg->model_sha256 : zeros, 32);
  tfl_tx_u16(tx, s->init_status);
  tfl_tx_u32(tx, 0xFFFFFFFFu);
  tfl_tx_u32(tx, arena_used(s));
  tfl_tx_u32(tx, static_cast<uint32_t>(cfg->planned_arena_bytes));
  tfl_tx_u32(tx, cfg->arena_bytes);
  tfl_tx_u32(tx, static_cast<uint32_t>(TFL_HARNESS_MAX_PAYLOAD));
  tfl_tx_u32(tx, op_count(s));
  tfl_tx_u32(tx, static_cast<uint32_t>(cfg->selftest_count > 0 ? cfg->selftest_count : 0));
  tfl_tx_u32(tx, static_cast<uint32_t>(s->selftest_failed));
  tx_str(tx, "tflm");
  tx_str(tx, cfg->board);
  tx_str(tx, tfl_port_tick_unit());
  tx_str(tx, status_name(s->init_status));
  tfl_tx_u8(tx, static_cast<uint8_t>(n_in));
  tfl_tx_u8(tx, static_cast<uint8_t>(n_out));
  for (size_t i = 0; i < n_in; ++i) {
    tx_tensor_spec(tx, tensor_at(s, false, i));
  }
  for (size_t i = 0; i < n_out; ++i) {
    tx_tensor_spec(tx, tensor_at(s, true, i));
  }
}

void send_info(State *s, uint8_t seq) {
  tfl_tx_measure_begin(&s->tx);
  info_payload(s);
  uint32_t len = tfl_tx_measure_end(&s->tx);
  tfl_tx_begin(&s->tx, TFL_MSG_INFO | TFL_MSG_REPLY, seq, len);
  info_payload(s);
  tfl_tx_end(&s->tx);
}

void send_invoke_reply(State *s, uint8_t seq) {
  uint32_t len = s->out_total > UINT32_MAX - 4u ? UINT32_MAX : s->out_total + 4u;
  tfl_tx_begin(&s->tx, TFL_MSG_INVOKE | TFL_MSG_REPLY, seq, len);
  tfl_tx_u32(&s->tx, s->last_ticks);
  tx_outputs(s);
  tfl_tx_end(&s->tx);
}

void handle_request(State *s, uint8_t type, uint8_t seq, const uint8_t *payload, uint32_t plen) {
  bool repeat = s->last_seq == static_cast<int32_t>(seq) && s->last_type == type;
  if (type < TFL_MSG_INFO || type > TFL_MSG_INPUT) {
    send_error(s, seq, TFL_PERR_UNKNOWN_TYPE, type, TFL_TFLM_OK, type);
    return;
  }
  s->last_seq = seq;
  s->last_type = type;
  if (type == TFL_MSG_INFO) {
    if (plen != 0) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, TFL_TFLM_OK, 0);
    } else {
      send_info(s, seq);
    }
    return;
  }
  if (type == TFL_MSG_RESET) {
    if (plen != 0) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, TFL_TFLM_OK, 0);
      return;
    }
    init(s);
    const char *name = status_name(s->init_status);
    tfl_tx_begin(&s->tx, TFL_MSG_RESET | TFL_MSG_REPLY, seq, 11u + str_len8(name));
    tfl_tx_u16(&s->tx, s->init_status);
    tfl_tx_u32(&s->tx, 0xFFFFFFFFu);
    tfl_tx_u32(&s->tx, arena_used(s));
    tx_str(&s->tx, name);
    tfl_tx_end(&s->tx);
    return;
  }
  if (!ready(s)) {
    send_error(s, seq, TFL_PERR_NOT_READY, type, s->init_status, 0);
    return;
  }
  if (type == TFL_MSG_INPUT) {
    if (plen < 4u) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, TFL_TFLM_OK, 4u);
      return;
    }
    uint32_t offset = tfl_get_u32le(payload);
    if (!write_inputs(s, offset, payload + 4, plen - 4u)) {
      send_error(s, seq, TFL_PERR_BAD_OFFSET, type, TFL_TFLM_OK, s->in_total);
      return;
    }
    s->have_result = 0;
    if (offset + (plen - 4u) == s->in_total) {
      s->input_fresh = 1;  // the chunk that ends the input completes it
    }
    tfl_tx_begin(&s->tx, TFL_MSG_INPUT | TFL_MSG_REPLY, seq, 8u);
    tfl_tx_u32(&s->tx, offset);
    tfl_tx_u32(&s->tx, plen - 4u);
    tfl_tx_end(&s->tx);
    return;
  }
  // INVOKE, and LAYERS without per-operator records (see the header)
  if (type == TFL_MSG_INVOKE && repeat && s->have_result) {
    send_invoke_reply(s, seq);  // the reply was lost: answer again without running
    return;
  }
  if (plen == 0) {
    if (!s->input_fresh) {
      send_error(s, seq, TFL_PERR_NO_INPUT, type, TFL_TFLM_OK, s->in_total);
      return;
    }
  } else if (plen != s->in_total) {
    send_error(s, seq, TFL_PERR_BAD_LENGTH, type, TFL_TFLM_OK, s->in_total);
    return;
  } else {
    (void)write_inputs(s, 0, payload, plen);
  }
  s->input_fresh = 0;  // running may overwrite the inputs (the arena is shared)
  s->have_result = 0;
  uint32_t t0 = tfl_port_ticks();
  TfLiteStatus status = s->it->Invoke();
  s->last_ticks = tfl_port_ticks() - t0;
  if (status != kTfLiteOk) {
    send_error(s, seq, TFL_PERR_INVOKE_FAILED, type, TFL_TFLM_INVOKE, 0);
    return;
  }
  if (type == TFL_MSG_LAYERS) {
    tfl_tx_begin(&s->tx, TFL_MSG_LAYERS | TFL_MSG_REPLY, seq, 8u);
    tfl_tx_u32(&s->tx, 0u);  // no LAYER frames were sent
    tfl_tx_u32(&s->tx, s->last_ticks);
    tfl_tx_end(&s->tx);
    return;
  }
  s->have_result = 1;
  send_invoke_reply(s, seq);
}

void handle_frame(State *s) {
  const uint8_t *f = s->rx.buf;
  uint32_t len = static_cast<uint32_t>(s->rx.len);
  if (len < TFL_FRAME_OVERHEAD) {
    send_error(s, len >= 2u ? f[1] : 0u, TFL_PERR_TRUNCATED, len >= 1u ? f[0] : 0u, TFL_TFLM_OK,
               len);
    return;
  }
  uint32_t plen = tfl_get_u32le(f + 2);
  if (plen > TFL_HARNESS_MAX_PAYLOAD) {
    send_error(s, f[1], TFL_PERR_OVERSIZED, f[0], TFL_TFLM_OK, TFL_HARNESS_MAX_PAYLOAD);
    return;
  }
  if (plen != len - TFL_FRAME_OVERHEAD) {
    send_error(s, f[1], TFL_PERR_TRUNCATED, f[0], TFL_TFLM_OK, len - TFL_FRAME_OVERHEAD);
    return;
  }
  uint16_t crc = tfl_crc16_update(TFL_CRC16_INIT, f, len - TFL_FRAME_CRC);
  if (crc != tfl_get_u16le(f + len - TFL_FRAME_CRC)) {
    send_error(s, f[1], TFL_PERR_BAD_CRC, f[0], TFL_TFLM_OK, crc);
    return;
  }
  handle_request(s, f[0], f[1], f + TFL_FRAME_HEADER, plen);
}

}  // namespace

void tfl_tflm_harness_main(const tfl_tflm_config *config) {
  State *s = &g_state;
  tfl_port_init();
  s->cfg = config;
  s->it = nullptr;
  s->last_seq = -1;
  s->last_type = 0;
  s->selftest_failed = -1;
  s->init_status = TFL_TFLM_OK;
  tfl_rx_init(&s->rx, s->rx_buf, sizeof s->rx_buf);
  if (config == nullptr) {
    put_str("tinyflash error init TFL_ERR_NULL_ARGUMENT op=-1\n");
    tfl_port_exit(1);
    for (;;) {
    }
  }
  init(s);
  if (s->init_status != TFL_TFLM_OK) {
    put_str("tinyflash error init ");
    put_str(status_name(s->init_status));
    put_str(" op=-1\n");
  } else {
    put_str("tinyflash ready ");
    s->selftest_failed = run_selftest(s);
    put_str("\n");
    s->input_fresh = 0;  // the self-test consumed the inputs
    s->have_result = 0;
  }
  for (;;) {
    int c = tfl_port_read_byte();
    if (c < 0) {
      tfl_port_exit(0);
      for (;;) {
      }
    }
    if (c != 0) {
      tfl_rx_push(&s->rx, static_cast<uint8_t>(c));
      continue;
    }
    switch (tfl_rx_finish(&s->rx)) {
      case TFL_RX_EMPTY:
        break;
      case TFL_RX_OVERFLOW:
        send_error(s, s->rx.buf[1], TFL_PERR_OVERSIZED, s->rx.buf[0], TFL_TFLM_OK,
                   TFL_HARNESS_MAX_PAYLOAD);
        break;
      case TFL_RX_BAD_COBS:
        send_error(s, 0, TFL_PERR_BAD_COBS, 0, TFL_TFLM_OK, 0);
        break;
      case TFL_RX_FRAME:
        handle_frame(s);
        break;
    }
  }
}
