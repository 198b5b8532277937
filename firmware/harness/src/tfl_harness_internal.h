/* Internal pieces of the device harness: CRC-16, the COBS frame codec and the protocol constants
 * (docs/protocol.md is the specification; keep both in step). Not part of the public API. */
#ifndef TFL_HARNESS_INTERNAL_H
#define TFL_HARNESS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tfl_server.h"

#define TFL_PROTO_VERSION 1u

/* Decoded frame: type(1) seq(1) length(4, LE) payload(length) crc(2, LE). */
#define TFL_FRAME_HEADER 6u
#define TFL_FRAME_CRC 2u
#define TFL_FRAME_OVERHEAD (TFL_FRAME_HEADER + TFL_FRAME_CRC)
#define TFL_RX_CAPACITY (TFL_HARNESS_MAX_PAYLOAD + TFL_FRAME_OVERHEAD)

/* Requests (host -> device); the server refuses a type outside TFL_MSG_INFO .. TFL_MSG_INPUT. */
enum {
  TFL_MSG_INFO = 0x01,
  TFL_MSG_INVOKE = 0x02,
  TFL_MSG_LAYERS = 0x03,
  TFL_MSG_RESET = 0x04,
  TFL_MSG_INPUT = 0x05
};
/* Replies (device -> host): the request type | 0x80, plus per-op LAYER frames and ERROR. */
#define TFL_MSG_REPLY 0x80u
#define TFL_MSG_LAYER 0x90u
#define TFL_MSG_ERROR 0xFFu

/* ERROR frame codes, in two groups as the host treats them (link.py TRANSPORT_ERRORS).
 * The frame did not arrive intact, so the host sends it again: */
enum {
  TFL_PERR_BAD_CRC = 1,
  TFL_PERR_TRUNCATED = 2,
  TFL_PERR_OVERSIZED = 3,
  TFL_PERR_BAD_COBS = 4
};
/* The request arrived but cannot be served: */
enum {
  TFL_PERR_UNKNOWN_TYPE = 5,
  TFL_PERR_BAD_LENGTH = 6,
  TFL_PERR_NOT_READY = 7,
  TFL_PERR_INVOKE_FAILED = 8,
  TFL_PERR_NO_INPUT = 9,
  TFL_PERR_BAD_OFFSET = 10
};

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor. */
#define TFL_CRC16_INIT 0xFFFFu
uint16_t tfl_crc16_update(uint16_t crc, const uint8_t *data, size_t len);

/* Incremental COBS decoder into a bounded buffer. Feed every byte that is not the 0x00
 * delimiter with tfl_rx_push; at the delimiter call tfl_rx_finish. */
typedef struct tfl_rx {
  uint8_t *buf;
  size_t capacity;
  size_t len;
  uint32_t received;    /* encoded bytes since the last delimiter (saturating) */
  uint8_t remaining;    /* data bytes left in the current COBS block */
  uint8_t zero_pending; /* the current block ends with an implied zero */
  uint8_t overflow;     /* decoded bytes did not fit into buf */
} tfl_rx;

typedef enum { TFL_RX_EMPTY = 0, TFL_RX_FRAME, TFL_RX_BAD_COBS, TFL_RX_OVERFLOW } tfl_rx_result;

void tfl_rx_init(tfl_rx *rx, uint8_t *buf, size_t capacity);
void tfl_rx_push(tfl_rx *rx, uint8_t byte);
/* Ends the frame at a delimiter and readies the decoder for the next one; the decoded bytes stay
 * in buf[0..len) until the next push. */
tfl_rx_result tfl_rx_finish(tfl_rx *rx);

/* Streaming COBS encoder with CRC: frames of any length leave through a 254-byte block buffer,
 * so replies never need a buffer of their own size. */
typedef struct tfl_tx {
  uint8_t block[254];
  uint8_t count;
  uint8_t measuring; /* 1: tfl_tx_bytes only adds to `measured` (sizing a payload first) */
  uint16_t crc;
  uint32_t measured;
} tfl_tx;

/* Counting mode: the tfl_tx_* writers only add up bytes until tfl_tx_measure_end returns the sum. */
void tfl_tx_measure_begin(tfl_tx *tx);
uint32_t tfl_tx_measure_end(tfl_tx *tx);

void tfl_tx_begin(tfl_tx *tx, uint8_t type, uint8_t seq, uint32_t payload_len);
void tfl_tx_bytes(tfl_tx *tx, const void *data, size_t len);
void tfl_tx_u8(tfl_tx *tx, uint8_t v);
void tfl_tx_u16(tfl_tx *tx, uint16_t v);
void tfl_tx_u32(tfl_tx *tx, uint32_t v);
void tfl_tx_end(tfl_tx *tx);

static inline uint32_t tfl_get_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint16_t tfl_get_u16le(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] | ((unsigned)p[1] << 8));
}

#endif
