/* The protocol server: init, self-test, one banner line, then the request loop of
 * docs/protocol.md (INFO, INPUT, INVOKE, LAYERS, RESET) until the serial link ends, over the
 * backend behind tfl_backend_* (tfl_server.h). All state is static and bounded; nothing a host
 * sends can make it write past a buffer. */
#include <string.h>

#include "tfl_harness_internal.h"
#include "tfl_port.h"

#if TFL_HARNESS_MAX_PAYLOAD < 64
#error "TFL_HARNESS_MAX_PAYLOAD must be at least 64"
#endif

typedef struct tfl_server_state {
  const tfl_server_config *cfg;
  uint16_t init_status;
  int32_t init_error_op;
  uint32_t in_total; /* bytes of all inputs, concatenated in input order */
  uint32_t out_total;
  int32_t selftest_failed; /* index of the first failing vector, -1 when all passed */
  uint8_t input_fresh;     /* all input bytes written since the last run */
  uint8_t have_result;     /* the last INVOKE succeeded: its outputs are still in place */
  int32_t last_seq;        /* sequence number of the last valid request, -1 none */
  uint8_t last_type;
  uint32_t last_ticks;
  uint8_t layers_seq;
  uint32_t mark;
  uint32_t layers_ticks;
  uint32_t layers_sent; /* LAYER frames of the current LAYERS (operators that ran) */
  tfl_tx tx;
  tfl_rx rx;
  uint8_t rx_buf[TFL_RX_CAPACITY];
} tfl_server_state;

static tfl_server_state g_state;

/* ---- small text output for the banner (no printf: it would pull stdio into the firmware) ---- */

static void put_str(const char *s) {
  size_t n = 0;
  while (s[n] != '\0') {
    ++n;
  }
  if (n) {
    tfl_port_write((const uint8_t *)s, n);
  }
}

static void put_i32(int32_t v) {
  char buf[12];
  int pos = (int)sizeof buf;
  uint32_t u = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
  do {
    buf[--pos] = (char)('0' + (u % 10u));
    u /= 10u;
  } while (u != 0 && pos > 1);
  if (v < 0) {
    buf[--pos] = '-';
  }
  tfl_port_write((const uint8_t *)buf + pos, (size_t)(sizeof buf - (size_t)pos));
}

static void put_status(uint16_t status) {
  const char *name = tfl_backend_status_name(status);
  if (name[0] != '\0') {
    put_str(name);
  } else {
    put_str("status");
    put_i32((int32_t)status);
  }
}

static uint8_t str_len8(const char *s) {
  size_t n = 0;
  if (s == NULL) {
    return 0;
  }
  while (n < 255u && s[n] != '\0') {
    ++n;
  }
  return (uint8_t)n;
}

/* A length-prefixed string (u8 length, at most 255 bytes). */
static void tx_str(tfl_tx *tx, const char *s) {
  uint8_t n = str_len8(s);
  tfl_tx_u8(tx, n);
  if (n) {
    tfl_tx_bytes(tx, s, n);
  }
}

/* ---- tensors -------------------------------------------------------------------------- */

static uint32_t total_bytes(int outputs) {
  int32_t count = tfl_backend_tensor_count(outputs);
  uint32_t total = 0;
  int32_t i;
  tfl_backend_tensor t;
  for (i = 0; i < count; ++i) {
    (void)tfl_backend_get_tensor(outputs, i, &t);
    if (t.bytes > UINT32_MAX - total) {
      return UINT32_MAX;
    }
    total += t.bytes;
  }
  return total;
}

/* Copies data into the inputs at `offset` of their concatenation; 0 when out of range. */
static int write_inputs(tfl_server_state *s, uint32_t offset, const uint8_t *data, uint32_t len) {
  uint32_t pos = 0;
  int32_t i;
  int32_t count = tfl_backend_tensor_count(0);
  tfl_backend_tensor t;
  if (offset > s->in_total || len > s->in_total - offset) {
    return 0;
  }
  for (i = 0; i < count; ++i) {
    uint32_t tb;
    (void)tfl_backend_get_tensor(0, i, &t);
    tb = t.bytes;
    /* pos + tb <= in_total, and offset + len <= in_total: no sum below overflows. */
    if (tb != 0 && offset < pos + tb && offset + len > pos) {
      uint32_t lo = offset > pos ? offset : pos;
      uint32_t hi = (offset + len) < (pos + tb) ? (offset + len) : (pos + tb);
      memcpy(t.data + (lo - pos), data + (lo - offset), hi - lo);
    }
    pos += tb;
  }
  return 1;
}

static void tx_outputs(tfl_server_state *s) {
  int32_t count = tfl_backend_tensor_count(1);
  int32_t i;
  tfl_backend_tensor t;
  for (i = 0; i < count; ++i) {
    (void)tfl_backend_get_tensor(1, i, &t);
    if (t.bytes > 0) {
      tfl_tx_bytes(&s->tx, t.data, t.bytes);
    }
  }
}

static uint8_t dims_of(const tfl_backend_tensor *t) {
  return t->dims_count <= TFL_BACKEND_MAX_DIMS ? t->dims_count : (uint8_t)TFL_BACKEND_MAX_DIMS;
}

static void tx_dims(tfl_tx *tx, const tfl_backend_tensor *t) {
  uint8_t d;
  uint8_t dims = dims_of(t);
  tfl_tx_u8(tx, dims);
  for (d = 0; d < dims; ++d) {
    tfl_tx_u32(tx, (uint32_t)t->dims[d]);
  }
}

static void tx_tensor_spec(tfl_tx *tx, int outputs, int32_t index) {
  uint32_t scale_bits;
  tfl_backend_tensor t;
  (void)tfl_backend_get_tensor(outputs, index, &t);
  tfl_tx_u8(tx, t.type);
  tx_dims(tx, &t);
  memcpy(&scale_bits, &t.scale, sizeof scale_bits);
  tfl_tx_u32(tx, scale_bits);
  tfl_tx_u32(tx, (uint32_t)t.zero_point);
  tfl_tx_u32(tx, t.bytes);
}

/* ---- init and self-test --------------------------------------------------------------- */

static void server_init(tfl_server_state *s) {
  uint16_t status = tfl_backend_init();
  s->init_status = status;
  s->init_error_op = status == 0 ? -1 : tfl_backend_error_op();
  s->in_total = status == 0 ? total_bytes(0) : 0u;
  s->out_total = status == 0 ? total_bytes(1) : 0u;
  s->input_fresh = 0;
  s->have_result = 0;
}

static uint32_t arena_used(const tfl_server_state *s) {
  return s->init_status == 0 ? tfl_backend_arena_used() : 0u;
}

/* The banner's fields up to the failing vector ("selftest=FAIL vectors=3 arena=1234 vector=1"). */
static void put_fail(tfl_server_state *s, int32_t count, int32_t v) {
  put_str("selftest=FAIL vectors=");
  put_i32(count);
  put_str(" arena=");
  put_i32((int32_t)arena_used(s));
  put_str(" vector=");
  put_i32(v);
}

/* Runs every vector; prints the banner's selftest fields. Returns the first failing vector or -1. */
static int32_t run_selftest(tfl_server_state *s) {
  const tfl_server_config *cfg = s->cfg;
  int32_t v;
  int32_t count = cfg->selftest != NULL && cfg->selftest_count > 0 ? cfg->selftest_count : 0;
  for (v = 0; v < count; ++v) {
    const tfl_selftest_vector *vec = &cfg->selftest[v];
    uint16_t status;
    uint32_t pos = 0;
    int32_t o;
    int32_t outputs;
    if (vec->input_bytes != s->in_total || vec->output_bytes != s->out_total ||
        vec->input == NULL || vec->expected_output == NULL) {
      put_fail(s, count, v);
      put_str(" size=");
      put_i32((int32_t)vec->input_bytes);
      put_str("/");
      put_i32((int32_t)vec->output_bytes);
      put_str(" want=");
      put_i32((int32_t)s->in_total);
      put_str("/");
      put_i32((int32_t)s->out_total);
      return v;
    }
    (void)write_inputs(s, 0, vec->input, vec->input_bytes);
    status = tfl_backend_invoke(0);
    if (status != 0) {
      put_fail(s, count, v);
      put_str(" status=");
      put_status(status);
      put_str(" op=");
      put_i32(tfl_backend_error_op());
      return v;
    }
    outputs = tfl_backend_tensor_count(1);
    for (o = 0; o < outputs; ++o) {
      tfl_backend_tensor t;
      uint32_t b;
      (void)tfl_backend_get_tensor(1, o, &t);
      for (b = 0; b < t.bytes; ++b) {
        if (t.data[b] != vec->expected_output[pos + b]) {
          put_fail(s, count, v);
          put_str(" byte=");
          put_i32((int32_t)(pos + b));
          put_str(" got=");
          put_i32((int32_t)(int8_t)t.data[b]);
          put_str(" want=");
          put_i32((int32_t)(int8_t)vec->expected_output[pos + b]);
          return v;
        }
      }
      pos += t.bytes;
    }
  }
  put_str(count ? "selftest=PASS vectors=" : "selftest=NONE vectors=");
  put_i32(count);
  put_str(" arena=");
  put_i32((int32_t)arena_used(s));
  return -1;
}

/* ---- replies ---------------------------------------------------------------------------- */

static void send_error(tfl_server_state *s, uint8_t seq, uint8_t code, uint8_t req_type,
                       uint16_t status, int32_t op, uint32_t detail) {
  const char *text = status != 0 ? tfl_backend_status_name(status) : "";
  uint8_t n = str_len8(text);
  tfl_tx_begin(&s->tx, TFL_MSG_ERROR, seq, 13u + n);
  tfl_tx_u8(&s->tx, code);
  tfl_tx_u8(&s->tx, req_type);
  tfl_tx_u16(&s->tx, status);
  tfl_tx_u32(&s->tx, (uint32_t)op);
  tfl_tx_u32(&s->tx, detail);
  tx_str(&s->tx, text);
  tfl_tx_end(&s->tx);
}

static void info_payload(tfl_server_state *s) {
  const tfl_server_config *cfg = s->cfg;
  tfl_tx *tx = &s->tx;
  int ready = s->init_status == 0;
  int32_t n_in = ready ? tfl_backend_tensor_count(0) : 0;
  int32_t n_out = ready ? tfl_backend_tensor_count(1) : 0;
  int32_t i;
  static const uint8_t zeros[32] = {0};
  tfl_tx_u8(tx, (uint8_t)TFL_PROTO_VERSION);
  tfl_tx_bytes(tx, cfg->model_sha256 != NULL ? cfg->model_sha256 : zeros, 32);
  tfl_tx_u16(tx, s->init_status);
  tfl_tx_u32(tx, (uint32_t)s->init_error_op);
  tfl_tx_u32(tx, arena_used(s));
  tfl_tx_u32(tx, (uint32_t)cfg->planned_arena_bytes);
  tfl_tx_u32(tx, cfg->arena_bytes);
  tfl_tx_u32(tx, (uint32_t)TFL_HARNESS_MAX_PAYLOAD);
  tfl_tx_u32(tx, (uint32_t)(ready ? tfl_backend_op_count() : 0));
  tfl_tx_u32(tx, (uint32_t)(cfg->selftest_count > 0 ? cfg->selftest_count : 0));
  tfl_tx_u32(tx, (uint32_t)s->selftest_failed);
  tx_str(tx, tfl_backend_runtime());
  tx_str(tx, cfg->board);
  tx_str(tx, tfl_port_tick_unit());
  tx_str(tx, tfl_backend_status_name(s->init_status));
  tfl_tx_u8(tx, (uint8_t)(n_in > 255 ? 255 : n_in));
  tfl_tx_u8(tx, (uint8_t)(n_out > 255 ? 255 : n_out));
  for (i = 0; i < n_in && i < 255; ++i) {
    tx_tensor_spec(tx, 0, i);
  }
  for (i = 0; i < n_out && i < 255; ++i) {
    tx_tensor_spec(tx, 1, i);
  }
}

static void send_info(tfl_server_state *s, uint8_t seq) {
  uint32_t len;
  tfl_tx_measure_begin(&s->tx);
  info_payload(s);
  len = tfl_tx_measure_end(&s->tx);
  tfl_tx_begin(&s->tx, TFL_MSG_INFO | TFL_MSG_REPLY, seq, len);
  info_payload(s);
  tfl_tx_end(&s->tx);
}

static void send_invoke_reply(tfl_server_state *s, uint8_t seq) {
  uint32_t len = s->out_total > UINT32_MAX - 4u ? UINT32_MAX : s->out_total + 4u;
  tfl_tx_begin(&s->tx, TFL_MSG_INVOKE | TFL_MSG_REPLY, seq, len);
  tfl_tx_u32(&s->tx, s->last_ticks);
  tx_outputs(s);
  tfl_tx_end(&s->tx);
}

/* LAYERS: called by the backend after each operator; streams that operator's outputs at once
 * because later operators reuse the arena. Ticks exclude the time spent streaming. */
int tfl_server_op_done(int32_t op_index) {
  tfl_server_state *s = &g_state;
  uint32_t op_ticks = tfl_port_ticks() - s->mark;
  tfl_backend_op op;
  uint8_t name_len;
  int32_t n_out;
  uint32_t len;
  int32_t o;
  tfl_backend_tensor t;
  tfl_backend_op_info(&op);
  name_len = str_len8(op.name);
  n_out = op.output_count > 0 ? op.output_count : 0;
  len = 4u + 4u + 4u + 1u + name_len + 1u;
  if (n_out > 255) {
    return 1;
  }
  for (o = 0; o < n_out; ++o) {
    uint32_t entry;
    (void)tfl_backend_op_output(o, &t);
    entry = 10u + 4u * (uint32_t)dims_of(&t);
    if (t.bytes > UINT32_MAX - entry - len) {
      return 1;
    }
    len += entry + t.bytes;
  }
  s->layers_ticks += op_ticks;
  s->layers_sent += 1u;
  tfl_tx_begin(&s->tx, TFL_MSG_LAYER, s->layers_seq, len);
  tfl_tx_u32(&s->tx, (uint32_t)op_index);
  tfl_tx_u32(&s->tx, (uint32_t)op.builtin_code);
  tfl_tx_u32(&s->tx, op_ticks);
  tx_str(&s->tx, op.name);
  tfl_tx_u8(&s->tx, (uint8_t)n_out);
  for (o = 0; o < n_out; ++o) {
    int32_t index = tfl_backend_op_output(o, &t);
    tfl_tx_u32(&s->tx, (uint32_t)index);
    tfl_tx_u8(&s->tx, t.type);
    tx_dims(&s->tx, &t);
    tfl_tx_u32(&s->tx, t.bytes);
    if (t.bytes) {
      tfl_tx_bytes(&s->tx, t.data, t.bytes);
    }
  }
  tfl_tx_end(&s->tx);
  s->mark = tfl_port_ticks_restart();
  return 0;
}

/* INVOKE and LAYERS take their input inline (payload = all input bytes) or from INPUT chunks
 * (empty payload). Returns 1 when the inputs are in place, else sends the ERROR. */
static int stage_input(tfl_server_state *s, uint8_t seq, uint8_t type, const uint8_t *payload,
                       uint32_t plen) {
  if (plen == 0) {
    if (!s->input_fresh) {
      send_error(s, seq, TFL_PERR_NO_INPUT, type, 0, -1, s->in_total);
      return 0;
    }
    return 1;
  }
  if (plen != s->in_total) {
    send_error(s, seq, TFL_PERR_BAD_LENGTH, type, 0, -1, s->in_total);
    return 0;
  }
  (void)write_inputs(s, 0, payload, plen);
  return 1;
}

static void handle_request(tfl_server_state *s, uint8_t type, uint8_t seq, const uint8_t *payload,
                           uint32_t plen) {
  int repeat = (s->last_seq == (int32_t)seq && s->last_type == type);
  int per_op;
  uint16_t status;
  uint32_t t0;
  if (type < TFL_MSG_INFO || type > TFL_MSG_INPUT) {
    send_error(s, seq, TFL_PERR_UNKNOWN_TYPE, type, 0, -1, type);
    return;
  }
  s->last_seq = seq;
  s->last_type = type;
  if (type == TFL_MSG_INFO) {
    if (plen != 0) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, 0, -1, 0);
    } else {
      send_info(s, seq);
    }
    return;
  }
  if (type == TFL_MSG_RESET) {
    const char *name;
    if (plen != 0) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, 0, -1, 0);
      return;
    }
    server_init(s);
    name = tfl_backend_status_name(s->init_status);
    tfl_tx_begin(&s->tx, TFL_MSG_RESET | TFL_MSG_REPLY, seq, 11u + str_len8(name));
    tfl_tx_u16(&s->tx, s->init_status);
    tfl_tx_u32(&s->tx, (uint32_t)s->init_error_op);
    tfl_tx_u32(&s->tx, arena_used(s));
    tx_str(&s->tx, name);
    tfl_tx_end(&s->tx);
    return;
  }
  if (s->init_status != 0) {
    send_error(s, seq, TFL_PERR_NOT_READY, type, s->init_status, s->init_error_op, 0);
    return;
  }
  if (type == TFL_MSG_INPUT) {
    uint32_t offset;
    if (plen < 4u) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, 0, -1, 4u);
      return;
    }
    offset = tfl_get_u32le(payload);
    if (!write_inputs(s, offset, payload + 4, plen - 4u)) {
      send_error(s, seq, TFL_PERR_BAD_OFFSET, type, 0, -1, s->in_total);
      return;
    }
    s->have_result = 0;
    if (offset + (plen - 4u) == s->in_total) {
      s->input_fresh = 1; /* the chunk that ends the input completes it */
    }
    tfl_tx_begin(&s->tx, TFL_MSG_INPUT | TFL_MSG_REPLY, seq, 8u);
    tfl_tx_u32(&s->tx, offset);
    tfl_tx_u32(&s->tx, plen - 4u);
    tfl_tx_end(&s->tx);
    return;
  }
  if (type == TFL_MSG_INVOKE && repeat && s->have_result) {
    send_invoke_reply(s, seq); /* the reply was lost: answer again without running */
    return;
  }
  if (!stage_input(s, seq, type, payload, plen)) {
    return;
  }
  s->input_fresh = 0; /* running may overwrite the inputs (the arena is shared) */
  s->have_result = 0;
  /* INVOKE; LAYERS per operator, or (backend without a hook) as one run with no records */
  per_op = type == TFL_MSG_LAYERS && tfl_backend_has_op_hook();
  s->layers_seq = seq;
  s->layers_ticks = 0;
  s->layers_sent = 0;
  t0 = tfl_port_ticks_restart();
  s->mark = t0;
  status = tfl_backend_invoke(per_op);
  s->last_ticks = tfl_port_ticks() - t0;
  if (status != 0) {
    send_error(s, seq, TFL_PERR_INVOKE_FAILED, type, status, tfl_backend_error_op(), 0);
    return;
  }
  if (type == TFL_MSG_INVOKE) {
    s->have_result = 1;
    send_invoke_reply(s, seq);
    return;
  }
  tfl_tx_begin(&s->tx, TFL_MSG_LAYERS | TFL_MSG_REPLY, seq, 8u);
  /* the operators that ran: every one of subgraph 0 and of the subgraphs its ops ran */
  tfl_tx_u32(&s->tx, per_op ? s->layers_sent : 0u);
  tfl_tx_u32(&s->tx, per_op ? s->layers_ticks : s->last_ticks);
  tfl_tx_end(&s->tx);
}

static void handle_frame(tfl_server_state *s) {
  const uint8_t *f = s->rx.buf;
  uint32_t len = (uint32_t)s->rx.len;
  uint32_t plen;
  uint16_t crc;
  if (len < TFL_FRAME_OVERHEAD) {
    send_error(s, len >= 2u ? f[1] : 0u, TFL_PERR_TRUNCATED, len >= 1u ? f[0] : 0u, 0, -1, len);
    return;
  }
  plen = tfl_get_u32le(f + 2);
  if (plen > TFL_HARNESS_MAX_PAYLOAD) {
    send_error(s, f[1], TFL_PERR_OVERSIZED, f[0], 0, -1, TFL_HARNESS_MAX_PAYLOAD);
    return;
  }
  if (plen != len - TFL_FRAME_OVERHEAD) {
    send_error(s, f[1], TFL_PERR_TRUNCATED, f[0], 0, -1, len - TFL_FRAME_OVERHEAD);
    return;
  }
  crc = tfl_crc16_update(TFL_CRC16_INIT, f, len - TFL_FRAME_CRC);
  if (crc != tfl_get_u16le(f + len - TFL_FRAME_CRC)) {
    send_error(s, f[1], TFL_PERR_BAD_CRC, f[0], 0, -1, crc);
    return;
  }
  handle_request(s, f[0], f[1], f + TFL_FRAME_HEADER, plen);
}

void tfl_server_main(const tfl_server_config *config) {
  tfl_server_state *s = &g_state;
  tfl_port_init();
  memset(s, 0, sizeof *s);
  s->cfg = config;
  s->last_seq = -1;
  s->selftest_failed = -1;
  tfl_rx_init(&s->rx, s->rx_buf, sizeof s->rx_buf);
  if (config == NULL) {
    put_str("tinyflash error init ");
    put_status(tfl_backend_init());
    put_str(" op=-1\n");
    tfl_port_exit(1);
    for (;;) {
    }
  }
  server_init(s);
  if (s->init_status != 0) {
    put_str("tinyflash error init ");
    put_status(s->init_status);
    put_str(" op=");
    put_i32(s->init_error_op);
    put_str("\n");
  } else {
    put_str("tinyflash ready ");
    s->selftest_failed = run_selftest(s);
    put_str("\n");
    /* The self-test consumed the inputs; a fresh start for the host. */
    s->input_fresh = 0;
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
      tfl_rx_push(&s->rx, (uint8_t)c);
      continue;
    }
    switch (tfl_rx_finish(&s->rx)) {
      case TFL_RX_EMPTY:
        break;
      case TFL_RX_OVERFLOW:
        send_error(s, s->rx.buf[1], TFL_PERR_OVERSIZED, s->rx.buf[0], 0, -1,
                   TFL_HARNESS_MAX_PAYLOAD);
        break;
      case TFL_RX_BAD_COBS:
        send_error(s, 0, TFL_PERR_BAD_COBS, 0, 0, -1, 0);
        break;
      case TFL_RX_FRAME:
        handle_frame(s);
        break;
    }
  }
}
