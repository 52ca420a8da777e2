/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP frame stream parsing and frame building. Pure: no I/O, no
 * allocation but the body buffer of frames that must be seen whole.
 * Fuzzed by tests/fuzz/fuzz_derp_frame.c.
 *
 * The reader is incremental: feed it whatever bytes arrived and it calls
 * back per frame. What to do with a frame is decided from its header by
 * on_header():
 *   DERP_RX_WHOLE   collect the payload and call on_frame() once
 *                   (ClientInfo, Ping, NotePreferred, ClosePeer, ...);
 *   DERP_RX_STREAM  collect the first `prefix` bytes (the keys), call
 *                   on_stream_start(), then pass the rest through
 *                   on_stream_data() as it arrives (SendPacket payloads
 *                   go straight into mbufs), then on_stream_end();
 *   DERP_RX_SKIP    discard the payload (unknown types);
 *   negative        a protocol violation: stop, close the session.
 * Callbacks return 0 to go on, or a negative close reason to stop.
 */
#ifndef DERPER_TLS_FRAME_H
#define DERPER_TLS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/derp_wire.h"

enum derp_rx_action {
	DERP_RX_WHOLE,
	DERP_RX_STREAM,
	DERP_RX_SKIP,
};

struct derp_rx_ops {
	/* return an action, set *prefix for STREAM (<= 64), or < 0 */
	int (*on_header)(void *ctx, uint8_t type, uint32_t len,
			 uint32_t *prefix);
	int (*on_frame)(void *ctx, uint8_t type, const uint8_t *body,
			uint32_t len);
	int (*on_stream_start)(void *ctx, uint8_t type, const uint8_t *prefix,
			       uint32_t prefix_len, uint32_t rest);
	int (*on_stream_data)(void *ctx, const uint8_t *data, uint32_t n);
	int (*on_stream_end)(void *ctx);
};

enum derp_rx_state {
	DERP_RX_HEADER,
	DERP_RX_BODY_WHOLE,
	DERP_RX_BODY_PREFIX,
	DERP_RX_BODY_STREAM,
	DERP_RX_BODY_SKIP,
};

struct derp_rx {
	uint8_t state;			/* enum derp_rx_state */
	uint8_t type;
	uint8_t hdr_got;
	uint8_t hdr[DERP_FRAME_HEADER_LEN];
	uint32_t len;			/* payload length of the frame */
	uint32_t got;			/* payload bytes consumed */
	uint32_t prefix;		/* STREAM: prefix length */
	uint8_t pfx[64];
	uint8_t *body;			/* WHOLE frames split across reads */
	uint32_t body_cap;
};

/* Release the body buffer (on close). */
void derp_rx_free(struct derp_rx *rx);

/*
 * Consume buf[0..len). Returns 0 when everything was consumed, or the
 * first negative value a callback (or memory) returned, after which the
 * reader must not be fed again. *used tells how far it got, so a caller
 * that stops early (e.g. after the handshake frame) can keep the rest.
 * `stop_after_frame` makes it return 1 after the first whole frame.
 */
int derp_rx_feed(struct derp_rx *rx, const uint8_t *buf, size_t len,
		 const struct derp_rx_ops *ops, void *ctx, size_t *used,
		 bool stop_after_frame);

/* Write a frame header; returns DERP_FRAME_HEADER_LEN. */
static inline size_t
derp_put_header(uint8_t *p, uint8_t type, uint32_t len)
{
	p[0] = type;
	p[1] = (uint8_t)(len >> 24);
	p[2] = (uint8_t)(len >> 16);
	p[3] = (uint8_t)(len >> 8);
	p[4] = (uint8_t)len;
	return DERP_FRAME_HEADER_LEN;
}

/* Does a packet look like disco (§6.3)? Needs the first 6 bytes. */
bool derp_looks_like_disco(const uint8_t *pkt, uint32_t len);

#endif /* DERPER_TLS_FRAME_H */
