/* COBS framing (Consistent Overhead Byte Stuffing): every frame on the wire is its COBS encoding
 * followed by one 0x00 delimiter, so a receiver resynchronises at the next zero whatever garbage
 * came before. Decoding is incremental into a bounded buffer; encoding streams through one block. */
#include "tfl_harness_internal.h"

#include "tfl_port.h"

void tfl_rx_init(tfl_rx *rx, uint8_t *buf, size_t capacity) {
  rx->buf = buf;
  rx->capacity = capacity;
  rx->len = 0;
  rx->received = 0;
  rx->remaining = 0;
  rx->zero_pending = 0;
  rx->overflow = 0;
}

static void rx_emit(tfl_rx *rx, uint8_t byte) {
  if (rx->len < rx->capacity) {
    rx->buf[rx->len++] = byte;
  } else {
    rx->overflow = 1;
  }
}

void tfl_rx_push(tfl_rx *rx, uint8_t byte) {
  if (rx->received == 0) {
    rx->len = 0; /* first byte of a new frame: the previous frame's bytes are done with */
  }
  if (rx->received < UINT32_MAX) {
    rx->received++;
  }
  if (rx->remaining == 0) {
    /* A code byte: the previous block's implied zero is real only now that a block follows. */
    if (rx->zero_pending) {
      rx_emit(rx, 0);
    }
    rx->remaining = (uint8_t)(byte - 1u);
    rx->zero_pending = (uint8_t)(byte != 0xFFu);
  } else {
    rx_emit(rx, byte);
    rx->remaining--;
  }
}

tfl_rx_result tfl_rx_finish(tfl_rx *rx) {
  tfl_rx_result result;
  if (rx->received == 0) {
    result = TFL_RX_EMPTY;
  } else if (rx->overflow) {
    result = TFL_RX_OVERFLOW;
  } else if (rx->remaining != 0) {
    result = TFL_RX_BAD_COBS; /* the delimiter came inside a block */
  } else {
    result = TFL_RX_FRAME;
  }
  rx->received = 0;
  rx->remaining = 0;
  rx->zero_pending = 0;
  rx->overflow = 0;
  if (result != TFL_RX_FRAME) {
    rx->len = 0;
  }
  return result;
}

/* ---- encoder ---------------------------------------------------------------------------- */

static void tx_flush(tfl_tx *tx) {
  uint8_t code = (uint8_t)(tx->count + 1u);
  tfl_port_write(&code, 1);
  if (tx->count) {
    tfl_port_write(tx->block, tx->count);
  }
  tx->count = 0;
}

static void tx_encode(tfl_tx *tx, const uint8_t *data, size_t len) {
  size_t i;
  for (i = 0; i < len; ++i) {
    if (data[i] == 0) {
      tx_flush(tx);
    } else {
      tx->block[tx->count++] = data[i];
      if (tx->count == 254u) {
        tx_flush(tx); /* code 0xFF: a full block without an implied zero */
      }
    }
  }
}

void tfl_tx_begin(tfl_tx *tx, uint8_t type, uint8_t seq, uint32_t payload_len) {
  uint8_t header[TFL_FRAME_HEADER];
  static const uint8_t delimiter = 0;
  header[0] = type;
  header[1] = seq;
  header[2] = (uint8_t)payload_len;
  header[3] = (uint8_t)(payload_len >> 8);
  header[4] = (uint8_t)(payload_len >> 16);
  header[5] = (uint8_t)(payload_len >> 24);
  /* A leading delimiter ends whatever the host may have half-received (e.g. the banner). */
  tfl_port_write(&delimiter, 1);
  tx->measuring = 0;
  tx->count = 0;
  tx->crc = TFL_CRC16_INIT;
  tfl_tx_bytes(tx, header, sizeof header);
}

void tfl_tx_measure_begin(tfl_tx *tx) {
  tx->measuring = 1;
  tx->measured = 0;
}

uint32_t tfl_tx_measure_end(tfl_tx *tx) {
  tx->measuring = 0;
  return tx->measured;
}

void tfl_tx_bytes(tfl_tx *tx, const void *data, size_t len) {
  const uint8_t *bytes = (const uint8_t *)data;
  if (tx->measuring) {
    tx->measured = (len > UINT32_MAX - tx->measured) ? UINT32_MAX : tx->measured + (uint32_t)len;
    return;
  }
  if (len == 0) {
    return;
  }
  tx->crc = tfl_crc16_update(tx->crc, bytes, len);
  tx_encode(tx, bytes, len);
}

void tfl_tx_u8(tfl_tx *tx, uint8_t v) { tfl_tx_bytes(tx, &v, 1); }

void tfl_tx_u16(tfl_tx *tx, uint16_t v) {
  uint8_t b[2];
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  tfl_tx_bytes(tx, b, 2);
}

void tfl_tx_u32(tfl_tx *tx, uint32_t v) {
  uint8_t b[4];
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)(v >> 16);
  b[3] = (uint8_t)(v >> 24);
  tfl_tx_bytes(tx, b, 4);
}

void tfl_tx_end(tfl_tx *tx) {
  uint8_t crc[2];
  static const uint8_t delimiter = 0;
  crc[0] = (uint8_t)tx->crc;
  crc[1] = (uint8_t)(tx->crc >> 8);
  tx_encode(tx, crc, 2);
  tx_flush(tx);
  tfl_port_write(&delimiter, 1);
}
