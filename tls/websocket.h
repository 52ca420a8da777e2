/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WebSocket (RFC 6455) server side for DERP's browser transport
 * (docs/protocol.md §5.6): the opening handshake and an incremental frame
 * decoder that hands the unmasked bytes of binary messages on as a plain
 * byte stream (message boundaries mean nothing to DERP). Pure but for the
 * SHA-1 of the accept key; fuzzed.
 */
#ifndef DERPER_TLS_WEBSOCKET_H
#define DERPER_TLS_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/http.h"

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

enum ws_status {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,	/* a text message */
	WS_CLOSE_POLICY = 1008,		/* subprotocol is not derp */
	WS_CLOSE_TOO_BIG = 1009,
};

enum {
	WS_MAX_MESSAGE = (64 << 10) + 37,	/* one RecvPacket + headers */
	WS_MAX_HEADER = 10,			/* server frames: no mask */
};

struct ws_rx {
	uint8_t state;
	uint8_t hdr[14];
	uint8_t hdr_got, hdr_need;
	uint8_t opcode;			/* of the current frame */
	bool fin;
	bool in_message;		/* a fragmented binary message is open */
	uint8_t mask[4];
	uint64_t len, got;		/* current frame payload */
	uint64_t msg_bytes;		/* current message so far */
	uint8_t ctl[125];		/* control frame payload */
};

struct ws_rx_ops {
	/* unmasked bytes of a binary message */
	int (*on_data)(void *ctx, uint8_t *data, size_t n);
	/* close (payload = status + reason), ping or pong */
	int (*on_control)(void *ctx, uint8_t opcode, const uint8_t *payload,
			  size_t n);
};

/*
 * Validate the upgrade request and write the 101 answer into out.
 * Returns its length, or -400 for a request that is not a valid WebSocket
 * handshake. *derp_proto tells whether "derp" was negotiated (if not, the
 * caller closes with 1008 right after the 101, as derper does).
 */
int ws_handshake(const struct http_req *req, char *out, size_t outlen,
		 bool *derp_proto);

/*
 * Decode buf[0..len) in place (unmasking). Returns 0, or the close status
 * to send (> 0) on a protocol violation, or a negative value a callback
 * returned.
 */
int ws_rx_feed(struct ws_rx *rx, uint8_t *buf, size_t len,
	       const struct ws_rx_ops *ops, void *ctx);

/* Write a server frame header (FIN set, no mask) for `len` bytes; returns
 * the header length (2, 4 or 10). */
size_t ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t len);

/* A complete close frame with `status`: 4 bytes. */
size_t ws_close_frame(uint8_t *out, uint16_t status);

#endif /* DERPER_TLS_WEBSOCKET_H */
