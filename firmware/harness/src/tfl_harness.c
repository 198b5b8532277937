/* The device harness: init, self-test, one banner line, then the request loop of
 * docs/protocol.md (INFO, INPUT, INVOKE, LAYERS, RESET) until the serial link ends.
 * All state is static and bounded; nothing a host sends can make it write past a buffer. */
#include <string.h>

#include "tfl_harness_internal.h"
#include "tfl_port.h"

#if TFL_HARNESS_MAX_PAYLOAD < 64
#error "TFL_HARNESS_MAX_PAYLOAD must be at least 64"
#endif

typedef struct tfl_harness_state {
  const tfl_harness_config *cfg;
  tfl_interpreter it;
  tfl_status init_status;
  int32_t init_error_op;
  uint32_t in_total;  /* bytes of all inputs, concatenated in input order */
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
  tfl_tx tx;
  tfl_rx rx;
  uint8_t rx_buf[TFL_RX_CAPACITY];
} tfl_harness_state;

static tfl_harness_state g_state;

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

static void put_status(tfl_status status) {
  const char *name = tfl_status_name(status);
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

static uint32_t total_bytes(tfl_interpreter *it, int outputs) {
  int32_t count = outputs ? tfl_output_count(it) : tfl_input_count(it);
  uint32_t total = 0;
  int32_t i;
  for (i = 0; i < count; ++i) {
    const tfl_tensor *t = outputs ? tfl_output(it, i) : tfl_input(it, i);
    uint32_t bytes = (t != NULL && t->bytes > 0) ? (uint32_t)t->bytes : 0u;
    if (bytes > UINT32_MAX - total) {
      return UINT32_MAX;
    }
    total += bytes;
  }
  return total;
}

/* Copies data into the inputs at `offset` of their concatenation; 0 when out of range. */
static int write_inputs(tfl_harness_state *s, uint32_t offset, const uint8_t *data, uint32_t len) {
  uint32_t pos = 0;
  int32_t i;
  int32_t count = tfl_input_count(&s->it);
  if (offset > s->in_total || len > s->in_total - offset) {
    return 0;
  }
  for (i = 0; i < count; ++i) {
    tfl_tensor *t = tfl_input(&s->it, i);
    uint32_t tb = (t != NULL && t->bytes > 0) ? (uint32_t)t->bytes : 0u;
    /* pos + tb <= in_total, and offset + len <= in_total: no sum below overflows. */
    if (tb != 0 && offset < pos + tb && offset + len > pos) {
      uint32_t lo = offset > pos ? offset : pos;
      uint32_t hi = (offset + len) < (pos + tb) ? (offset + len) : (pos + tb);
      memcpy((uint8_t *)t->data + (lo - pos), data + (lo - offset), hi - lo);
    }
    pos += tb;
  }
  return 1;
}

static void tx_outputs(tfl_harness_state *s) {
  int32_t count = tfl_output_count(&s->it);
  int32_t i;
  for (i = 0; i < count; ++i) {
    const tfl_tensor *t = tfl_output(&s->it, i);
    if (t != NULL && t->bytes > 0) {
      tfl_tx_bytes(&s->tx, t->data, (size_t)t->bytes);
    }
  }
}

static void tx_tensor_spec(tfl_tx *tx, const tfl_tensor *t) {
  uint32_t scale_bits;
  uint8_t dims = t->dims_count <= TFL_MAX_DIMS ? t->dims_count : (uint8_t)TFL_MAX_DIMS;
  uint8_t d;
  tfl_tx_u8(tx, t->type);
  tfl_tx_u8(tx, dims);
  for (d = 0; d < dims; ++d) {
    tfl_tx_u32(tx, (uint32_t)t->dims[d]);
  }
  memcpy(&scale_bits, &t->scale, sizeof scale_bits);
  tfl_tx_u32(tx, t->quant_count > 0 ? scale_bits : 0u);
  tfl_tx_u32(tx, (uint32_t)(t->quant_count > 0 ? t->zero_point : 0));
  tfl_tx_u32(tx, t->bytes > 0 ? (uint32_t)t->bytes : 0u);
}

/* ---- init and self-test --------------------------------------------------------------- */

static void harness_init(tfl_harness_state *s) {
  const tfl_harness_config *cfg = s->cfg;
  tfl_status status;
  memset(&s->it, 0, sizeof s->it);
  status = tfl_init(&s->it, cfg->model, cfg->model_size, cfg->ops, &cfg->memory);
  s->init_status = status;
  s->init_error_op = status == TFL_OK ? -1 : s->it.error_op;
  s->in_total = status == TFL_OK ? total_bytes(&s->it, 0) : 0u;
  s->out_total = status == TFL_OK ? total_bytes(&s->it, 1) : 0u;
  s->input_fresh = 0;
  s->have_result = 0;
  s->it.hook = NULL;
  s->it.hook_user = NULL;
}

/* Runs every vector; prints the banner's selftest fields. Returns the first failing vector or -1. */
static int32_t run_selftest(tfl_harness_state *s) {
  const tfl_harness_config *cfg = s->cfg;
  int32_t v;
  int32_t count = cfg->selftest != NULL && cfg->selftest_count > 0 ? cfg->selftest_count : 0;
  for (v = 0; v < count; ++v) {
    const tfl_selftest_vector *vec = &cfg->selftest[v];
    tfl_status status;
    uint32_t pos = 0;
    int32_t o;
    if (vec->input_bytes != s->in_total || vec->output_bytes != s->out_total ||
        vec->input == NULL || vec->expected_output == NULL) {
      put_str("selftest=FAIL vectors=");
      put_i32(count);
      put_str(" arena=");
      put_i32(s->it.arena_used);
      put_str(" vector=");
      put_i32(v);
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
    status = tfl_invoke(&s->it);
    if (status != TFL_OK) {
      put_str("selftest=FAIL vectors=");
      put_i32(count);
      put_str(" arena=");
      put_i32(s->it.arena_used);
      put_str(" vector=");
      put_i32(v);
      put_str(" status=");
      put_status(status);
      put_str(" op=");
      put_i32(s->it.error_op);
      return v;
    }
    for (o = 0; o < tfl_output_count(&s->it); ++o) {
      const tfl_tensor *t = tfl_output(&s->it, o);
      uint32_t b;
      uint32_t tb = (t != NULL && t->bytes > 0) ? (uint32_t)t->bytes : 0u;
      const uint8_t *got = t != NULL ? (const uint8_t *)t->data : NULL;
      for (b = 0; b < tb; ++b) {
        if (got[b] != vec->expected_output[pos + b]) {
          put_str("selftest=FAIL vectors=");
          put_i32(count);
          put_str(" arena=");
          put_i32(s->it.arena_used);
          put_str(" vector=");
          put_i32(v);
          put_str(" byte=");
          put_i32((int32_t)(pos + b));
          put_str(" got=");
          put_i32((int32_t)(int8_t)got[b]);
          put_str(" want=");
          put_i32((int32_t)(int8_t)vec->expected_output[pos + b]);
          return v;
        }
      }
      pos += tb;
    }
  }
  put_str(count ? "selftest=PASS vectors=" : "selftest=NONE vectors=");
  put_i32(count);
  put_str(" arena=");
  put_i32(s->it.arena_used);
  return -1;
}

/* ---- replies ---------------------------------------------------------------------------- */

static void send_error(tfl_harness_state *s, uint8_t seq, uint8_t code, uint8_t req_type,
                       tfl_status status, int32_t op, uint32_t detail) {
  const char *text = status != TFL_OK ? tfl_status_name(status) : "";
  uint8_t n = str_len8(text);
  tfl_tx_begin(&s->tx, TFL_MSG_ERROR, seq, 13u + n);
  tfl_tx_u8(&s->tx, code);
  tfl_tx_u8(&s->tx, req_type);
  tfl_tx_u16(&s->tx, (uint16_t)status);
  tfl_tx_u32(&s->tx, (uint32_t)op);
  tfl_tx_u32(&s->tx, detail);
  tx_str(&s->tx, text);
  tfl_tx_end(&s->tx);
}

static void info_payload(tfl_harness_state *s) {
  const tfl_harness_config *cfg = s->cfg;
  tfl_tx *tx = &s->tx;
  int ready = s->init_status == TFL_OK;
  int32_t n_in = ready ? tfl_input_count(&s->it) : 0;
  int32_t n_out = ready ? tfl_output_count(&s->it) : 0;
  int32_t i;
  static const uint8_t zeros[32] = {0};
  tfl_tx_u8(tx, (uint8_t)TFL_PROTO_VERSION);
  tfl_tx_bytes(tx, cfg->model_sha256 != NULL ? cfg->model_sha256 : zeros, 32);
  tfl_tx_u16(tx, (uint16_t)s->init_status);
  tfl_tx_u32(tx, (uint32_t)s->init_error_op);
  tfl_tx_u32(tx, (uint32_t)(ready ? s->it.arena_used : 0));
  tfl_tx_u32(tx, (uint32_t)cfg->planned_arena_bytes);
  tfl_tx_u32(tx, (uint32_t)cfg->memory.arena_bytes);
  tfl_tx_u32(tx, (uint32_t)TFL_HARNESS_MAX_PAYLOAD);
  tfl_tx_u32(tx, (uint32_t)(ready ? s->it.node_count : 0));
  tfl_tx_u32(tx, (uint32_t)(cfg->selftest_count > 0 ? cfg->selftest_count : 0));
  tfl_tx_u32(tx, (uint32_t)s->selftest_failed);
  tx_str(tx, TFL_RUNTIME_VERSION);
  tx_str(tx, cfg->board);
  tx_str(tx, tfl_port_tick_unit());
  tx_str(tx, tfl_status_name(s->init_status));
  tfl_tx_u8(tx, (uint8_t)(n_in > 255 ? 255 : n_in));
  tfl_tx_u8(tx, (uint8_t)(n_out > 255 ? 255 : n_out));
  for (i = 0; i < n_in && i < 255; ++i) {
    tx_tensor_spec(tx, tfl_input(&s->it, i));
  }
  for (i = 0; i < n_out && i < 255; ++i) {
    tx_tensor_spec(tx, tfl_output(&s->it, i));
  }
}

static void send_info(tfl_harness_state *s, uint8_t seq) {
  uint32_t len;
  tfl_tx_measure_begin(&s->tx);
  info_payload(s);
  len = tfl_tx_measure_end(&s->tx);
  tfl_tx_begin(&s->tx, TFL_MSG_INFO | TFL_MSG_REPLY, seq, len);
  info_payload(s);
  tfl_tx_end(&s->tx);
}

static void send_invoke_reply(tfl_harness_state *s, uint8_t seq) {
  uint32_t len = s->out_total > UINT32_MAX - 4u ? UINT32_MAX : s->out_total + 4u;
  tfl_tx_begin(&s->tx, TFL_MSG_INVOKE | TFL_MSG_REPLY, seq, len);
  tfl_tx_u32(&s->tx, s->last_ticks);
  tx_outputs(s);
  tfl_tx_end(&s->tx);
}

/* LAYERS: called by tfl_invoke after each operator; streams that operator's outputs at once
 * because later operators reuse the arena. Ticks exclude the time spent streaming. */
static tfl_status layers_hook(void *user, tfl_context *ctx, int32_t op_index,
                              const tfl_node *node) {
  tfl_harness_state *s = (tfl_harness_state *)user;
  uint32_t op_ticks = tfl_port_ticks() - s->mark;
  const char *name = tfl_op_name(node);
  uint8_t name_len = str_len8(name);
  int32_t n_out = node->output_count > 0 ? node->output_count : 0;
  uint32_t len = 4u + 4u + 4u + 1u + name_len + 1u;
  int32_t o;
  if (n_out > 255) {
    return TFL_ERR_BAD_ARGUMENT;
  }
  for (o = 0; o < n_out; ++o) {
    const tfl_tensor *t = tfl_tensor_at(ctx, (int32_t)tfl_get_u32le(node->outputs_le + 4 * o));
    uint32_t tb = (t != NULL && t->bytes > 0) ? (uint32_t)t->bytes : 0u;
    uint32_t dims = t != NULL && t->dims_count <= TFL_MAX_DIMS ? t->dims_count : 0u;
    uint32_t entry = 10u + 4u * dims;
    if (tb > UINT32_MAX - entry - len) {
      return TFL_ERR_BAD_ARGUMENT;
    }
    len += entry + tb;
  }
  s->layers_ticks += op_ticks;
  tfl_tx_begin(&s->tx, TFL_MSG_LAYER, s->layers_seq, len);
  tfl_tx_u32(&s->tx, (uint32_t)op_index);
  tfl_tx_u32(&s->tx, (uint32_t)node->builtin_code);
  tfl_tx_u32(&s->tx, op_ticks);
  tx_str(&s->tx, name);
  tfl_tx_u8(&s->tx, (uint8_t)n_out);
  for (o = 0; o < n_out; ++o) {
    int32_t index = (int32_t)tfl_get_u32le(node->outputs_le + 4 * o);
    const tfl_tensor *t = tfl_tensor_at(ctx, index);
    uint32_t tb = (t != NULL && t->bytes > 0) ? (uint32_t)t->bytes : 0u;
    uint8_t dims = t != NULL && t->dims_count <= TFL_MAX_DIMS ? t->dims_count : 0u;
    uint8_t d;
    tfl_tx_u32(&s->tx, (uint32_t)index);
    tfl_tx_u8(&s->tx, t != NULL ? t->type : 0u);
    tfl_tx_u8(&s->tx, dims);
    for (d = 0; d < dims; ++d) {
      tfl_tx_u32(&s->tx, (uint32_t)t->dims[d]);
    }
    tfl_tx_u32(&s->tx, tb);
    if (tb) {
      tfl_tx_bytes(&s->tx, t->data, tb);
    }
  }
  tfl_tx_end(&s->tx);
  s->mark = tfl_port_ticks_restart();
  return TFL_OK;
}

/* INVOKE and LAYERS take their input inline (payload = all input bytes) or from INPUT chunks
 * (empty payload). Returns 1 when the inputs are in place, else sends the ERROR. */
static int stage_input(tfl_harness_state *s, uint8_t seq, uint8_t type, const uint8_t *payload,
                       uint32_t plen) {
  if (plen == 0) {
    if (!s->input_fresh) {
      send_error(s, seq, TFL_PERR_NO_INPUT, type, TFL_OK, -1, s->in_total);
      return 0;
    }
    return 1;
  }
  if (plen != s->in_total) {
    send_error(s, seq, TFL_PERR_BAD_LENGTH, type, TFL_OK, -1, s->in_total);
    return 0;
  }
  (void)write_inputs(s, 0, payload, plen);
  return 1;
}

static void handle_request(tfl_harness_state *s, uint8_t type, uint8_t seq, const uint8_t *payload,
                           uint32_t plen) {
  int repeat = (s->last_seq == (int32_t)seq && s->last_type == type);
  int ready = s->init_status == TFL_OK;
  tfl_status status;
  uint32_t t0;
  if (type < TFL_MSG_INFO || type > TFL_MSG_INPUT) {
    send_error(s, seq, TFL_PERR_UNKNOWN_TYPE, type, TFL_OK, -1, type);
    return;
  }
  s->last_seq = seq;
  s->last_type = type;
  if (type == TFL_MSG_INFO) {
    if (plen != 0) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, TFL_OK, -1, 0);
    } else {
      send_info(s, seq);
    }
    return;
  }
  if (type == TFL_MSG_RESET) {
    if (plen != 0) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, TFL_OK, -1, 0);
      return;
    }
    harness_init(s);
    tfl_tx_begin(&s->tx, TFL_MSG_RESET | TFL_MSG_REPLY, seq,
                 11u + str_len8(tfl_status_name(s->init_status)));
    tfl_tx_u16(&s->tx, (uint16_t)s->init_status);
    tfl_tx_u32(&s->tx, (uint32_t)s->init_error_op);
    tfl_tx_u32(&s->tx, (uint32_t)(s->init_status == TFL_OK ? s->it.arena_used : 0));
    tx_str(&s->tx, tfl_status_name(s->init_status));
    tfl_tx_end(&s->tx);
    return;
  }
  if (!ready) {
    send_error(s, seq, TFL_PERR_NOT_READY, type, s->init_status, s->init_error_op, 0);
    return;
  }
  if (type == TFL_MSG_INPUT) {
    uint32_t offset;
    if (plen < 4u) {
      send_error(s, seq, TFL_PERR_BAD_LENGTH, type, TFL_OK, -1, 4u);
      return;
    }
    offset = tfl_get_u32le(payload);
    if (!write_inputs(s, offset, payload + 4, plen - 4u)) {
      send_error(s, seq, TFL_PERR_BAD_OFFSET, type, TFL_OK, -1, s->in_total);
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
  if (type == TFL_MSG_INVOKE) {
    t0 = tfl_port_ticks_restart();
    status = tfl_invoke(&s->it);
    s->last_ticks = tfl_port_ticks() - t0;
    if (status != TFL_OK) {
      send_error(s, seq, TFL_PERR_INVOKE_FAILED, type, status, s->it.error_op, 0);
      return;
    }
    s->have_result = 1;
    send_invoke_reply(s, seq);
    return;
  }
  /* LAYERS */
  s->layers_seq = seq;
  s->layers_ticks = 0;
  s->it.hook = layers_hook;
  s->it.hook_user = s;
  s->mark = tfl_port_ticks_restart();
  status = tfl_invoke(&s->it);
  s->it.hook = NULL;
  s->it.hook_user = NULL;
  if (status != TFL_OK) {
    send_error(s, seq, TFL_PERR_INVOKE_FAILED, type, status, s->it.error_op, 0);
    return;
  }
  tfl_tx_begin(&s->tx, TFL_MSG_LAYERS | TFL_MSG_REPLY, seq, 8u);
  tfl_tx_u32(&s->tx, (uint32_t)s->it.node_count);
  tfl_tx_u32(&s->tx, s->layers_ticks);
  tfl_tx_end(&s->tx);
}

static void handle_frame(tfl_harness_state *s) {
  const uint8_t *f = s->rx.buf;
  uint32_t len = (uint32_t)s->rx.len;
  uint32_t plen;
  uint16_t crc;
  if (len < TFL_FRAME_OVERHEAD) {
    send_error(s, len >= 2u ? f[1] : 0u, TFL_PERR_TRUNCATED, len >= 1u ? f[0] : 0u, TFL_OK, -1,
               len);
    return;
  }
  plen = tfl_get_u32le(f + 2);
  if (plen > TFL_HARNESS_MAX_PAYLOAD) {
    send_error(s, f[1], TFL_PERR_OVERSIZED, f[0], TFL_OK, -1, TFL_HARNESS_MAX_PAYLOAD);
    return;
  }
  if (plen != len - TFL_FRAME_OVERHEAD) {
    send_error(s, f[1], TFL_PERR_TRUNCATED, f[0], TFL_OK, -1, len - TFL_FRAME_OVERHEAD);
    return;
  }
  crc = tfl_crc16_update(TFL_CRC16_INIT, f, len - TFL_FRAME_CRC);
  if (crc != tfl_get_u16le(f + len - TFL_FRAME_CRC)) {
    send_error(s, f[1], TFL_PERR_BAD_CRC, f[0], TFL_OK, -1, crc);
    return;
  }
  handle_request(s, f[0], f[1], f + TFL_FRAME_HEADER, plen);
}

void tfl_harness_main(const tfl_harness_config *config) {
  tfl_harness_state *s = &g_state;
  tfl_port_init();
  memset(s, 0, sizeof *s);
  s->cfg = config;
  s->last_seq = -1;
  s->selftest_failed = -1;
  tfl_rx_init(&s->rx, s->rx_buf, sizeof s->rx_buf);
  if (config == NULL) {
    put_str("tinyflash error init ");
    put_status(TFL_ERR_NULL_ARGUMENT);
    put_str(" op=-1\n");
    tfl_port_exit(1);
    for (;;) {
    }
  }
  harness_init(s);
  if (s->init_status != TFL_OK) {
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
        send_error(s, s->rx.buf[1], TFL_PERR_OVERSIZED, s->rx.buf[0], TFL_OK, -1,
                   TFL_HARNESS_MAX_PAYLOAD);
        break;
      case TFL_RX_BAD_COBS:
        send_error(s, 0, TFL_PERR_BAD_COBS, 0, TFL_OK, -1, 0);
        break;
      case TFL_RX_FRAME:
        handle_frame(s);
        break;
    }
  }
}
