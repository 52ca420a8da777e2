/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside a session, between the files that each hold one of its concerns:
 *   session.c      life cycle: handshake, reading, timers, drain, close
 *   derp_frames.c  DERP frames in: ClientInfo, registration, every frame
 *   admission.c    asking the admission thread, and its verdict
 *   ws_stream.c    the DERP stream inside WebSocket messages
 *   http_serve.c   HTTP before the upgrade, and the upgrades
 *   output.c       everything a session sends, assembled once per iteration
 * Only tls/ includes this header; all of it runs on the session's TLS
 * thread.
 */
#ifndef DERPER_TLS_SESSION_INT_H
#define DERPER_TLS_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/session.h"

struct rte_mbuf;

enum {
	READ_BUDGET = 64 << 10,		/* bytes per session per iteration */
	RBUF_SIZE = 64 << 10,
	WBUF_SOFT = 64 << 10,		/* stop adding packets beyond this */
	OUT_KEEP = 0,			/* an idle session keeps no output buffer */
	GONE_MAX = 4096,		/* PeerGone frames pending per session */
	HELD_MAX = 256 << 10,		/* input buffered while verifying */
	MESH_WRITE_TIMEOUT_S = 30,
	CLIENT_BURST_MIN = 65568,	/* one largest frame, as derper */
	/* Unsent output past which a session that has not yet become DERP
	 * is not read (nor answered) until it has drained to half: a client
	 * that does not read what it asked for is slowed by TCP, as Go's
	 * HTTP server answers one request at a time. An established session
	 * is read on (its output is relayed packets, bounded elsewhere), but
	 * gets no WebSocket pong past it. */
	OUT_PAUSE = 64 << 10,
};

/* Output written but not yet taken by the socket. */
static inline size_t
session_out_unsent(const struct session *s)
{
	return (size_t)s->out_len - s->out_off;
}

/* Stop reading (and answering) while the output is over OUT_PAUSE. True
 * when paused; counted once per pause. */
bool session_out_pause(struct tls_thread *t, struct session *s);

/* session.c: the output has drained: read (and answer) again. */
void session_out_resume(struct tls_thread *t, struct session *s);

/* A negative callback result that carries a close reason. */
#define CLOSE_RC(reason) (-(1000 + (reason)))

/* The context of the DERP and WebSocket parsers' callbacks. */
struct feed {
	struct tls_thread *t;
	struct session *s;
};

/* output.c */

/* Room for `need` bytes in a session buffer (at most 2 GiB). 0, -ENOMEM. */
int session_grow(uint8_t **buf, uint32_t *cap, size_t need, uint32_t first);

/* Append bytes, or one frame (type, p1 || p2), to the session's output.
 * 0, -ENOMEM. */
int session_out_append(struct session *s, const void *data, size_t len);
int session_out_frame(struct session *s, uint8_t type, const void *p1,
		      size_t n1, const void *p2, size_t n2);

/* output.c: a packet left s's queue (sent, dropped, or freed at close):
 * its buffer bytes are no longer held. */
void session_unqueued(struct tls_thread *t, struct session *s,
		      const struct rte_mbuf *m);

/* session.c: close with `reason` once the output has gone out, or at
 * deadline_ms. */
void session_close_after_flush(struct tls_thread *t, struct session *s,
			       int reason, uint64_t deadline_ms);

/* derp_frames.c: the DERP byte stream; 0, or <0 once the session closed. */
int session_feed_derp(struct tls_thread *t, struct session *s,
		      const uint8_t *buf, size_t len);

/* derp_frames.c: ServerInfo sent, the key announced to the forwarding
 * lcore; 0 or CLOSE_RC(reason). */
int session_register(struct tls_thread *t, struct session *s);

/* admission.c: ask about the client; the session waits in S_VERIFYING.
 * 0 or CLOSE_RC(reason). */
int session_request_admission(struct tls_thread *t, struct session *s);

/* ws_stream.c: WebSocket bytes (unmasked in place); a failure closes. */
void session_feed_ws(struct tls_thread *t, struct session *s, uint8_t *buf,
		     size_t len);
void session_ws_fail(struct tls_thread *t, struct session *s, uint16_t status);

/* http_serve.c: bytes of an HTTP session, request heads answered as they
 * complete; while the output is over its limit, unanswered input waits. */
void session_consume_http(struct tls_thread *t, struct session *s,
			  const uint8_t *buf, size_t n);

/* http_serve.c: answer what waited (after a pause). */
void session_http_resume(struct tls_thread *t, struct session *s);

#endif /* DERPER_TLS_SESSION_INT_H */
