/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A session whose DERP stream travels in WebSocket messages
 * (docs/protocol.md §5.6): binary messages feed the DERP parser, pings
 * are answered, a broken stream closes with its status.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tls/session_int.h"
#include "tls/websocket.h"

static int
ws_on_data(void *ctx, uint8_t *data, size_t n)
{
	struct feed *f = ctx;

	if (f->s->state != S_CLIENT_INFO && f->s->state != S_VERIFYING &&
	    f->s->state != S_RUN)
		return 0;
	return session_feed_derp(f->t, f->s, data, n) ? -1 : 0;
}

static int
ws_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t n)
{
	struct feed *f = ctx;
	uint8_t buf[WS_MAX_HEADER + 125];
	size_t h;

	switch (opcode) {
	case WS_OP_PING:
		/* past the output limit, earlier pings go unanswered: RFC 6455
		 * §5.5.3 lets a Pong answer only the latest Ping */
		if (session_out_unsent(f->s) > OUT_PAUSE) {
			TLS_COUNT(&f->t->cnt, output_pauses, 1);
			return 0;
		}
		h = ws_frame_header(buf, WS_OP_PONG, n);
		memcpy(buf + h, payload, n);
		if (session_out_append(f->s, buf, h + n))
			return CLOSE_RC(TLS_CLOSE_NO_MEMORY);
		session_mark_dirty(f->t, f->s);
		return 0;
	case WS_OP_CLOSE:
		/* 1000/1001 from the peer is a normal end of stream */
		return CLOSE_RC(TLS_CLOSE_EOF);
	default:
		return 0;
	}
}

static const struct ws_rx_ops ws_ops = {
	.on_data = ws_on_data,
	.on_control = ws_on_control,
};

void
session_ws_fail(struct tls_thread *t, struct session *s, uint16_t status)
{
	uint8_t buf[8];
	size_t n = ws_close_frame(buf, status);

	session_out_append(s, buf, n);
	s->flags |= SF_WS_CLOSE_SENT;
	session_close_after_flush(t, s, TLS_CLOSE_WEBSOCKET, t->now_ms + 1000);
}

void
session_feed_ws(struct tls_thread *t, struct session *s, uint8_t *buf, size_t len)
{
	struct feed f = {t, s};
	int rc = ws_rx_feed(s->ws, buf, len, &ws_ops, &f);

	if (rc == 0 || s->state == S_DEAD)
		return;
	if (rc > 0)
		session_ws_fail(t, s, (uint16_t)rc);
	else if (rc <= -1000)
		session_close(t, s, -rc - 1000);
}
