/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP on a session before it becomes DERP (docs/protocol.md §5.1, §10):
 * request heads parsed and routed, answers appended to the output, and the
 * upgrades to DERP and WebSocket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tls/acme_challenge.h"
#include "tls/http_route.h"
#include "tls/keyfile.h"
#include "tls/session_int.h"
#include "tls/tls_conn.h"
#include "tls/websocket.h"

static void
http_fail(struct tls_thread *t, struct session *s, int status)
{
	char buf[512];
	size_t n = http_error_response(status, buf, sizeof(buf));

	session_out_append(s, buf, n);
	session_close_after_flush(t, s, TLS_CLOSE_HTTP_BAD_REQUEST, t->now_ms + 1000);
}

static bool
debug_allowed(const struct session *s)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t ts6[6] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};

	if (memcmp(s->ip, v6lo, 16) == 0 || memcmp(s->ip, ts6, 6) == 0)
		return true;
	if (memcmp(s->ip, v4mapped, 12) != 0)
		return false;
	if (s->ip[12] == 127)
		return true;
	/* 100.64.0.0/10 minus 100.115.92.0/23 */
	if (s->ip[12] == 100 && (s->ip[13] & 0xc0) == 64)
		return !(s->ip[13] == 115 && (s->ip[14] & 0xfe) == 92);
	return false;
}

static void
begin_derp(struct tls_thread *t, struct session *s, const struct http_req *req)
{
	static const char hdr[] = "HTTP/1.1 101 Switching Protocols\r\n"
				  "Upgrade: DERP\r\n"
				  "Connection: Upgrade\r\n"
				  "Derp-Version: 2\r\n"
				  "Derp-Public-Key: ";
	uint8_t key_frame[DERP_MAGIC_LEN + DERP_KEY_LEN];
	char hex[65];

	if (req->ideal_node.n)
		s->flags |= SF_NOTIDEAL;
	/* With Derp-Fast-Start the client waits for no HTTP answer. */
	if (!(s->flags & SF_WS) && !http_str_eq(req->fast_start, "1")) {
		tls_key_hex(t->server_pub, hex);
		session_out_append(s, hdr, sizeof(hdr) - 1);
		session_out_append(s, hex, 64);
		session_out_append(s, "\r\n\r\n", 4);
	}
	memcpy(key_frame, DERP_MAGIC, DERP_MAGIC_LEN);
	memcpy(key_frame + DERP_MAGIC_LEN, t->server_pub, DERP_KEY_LEN);
	session_out_frame(s, DERP_FRAME_SERVER_KEY, key_frame, sizeof(key_frame), NULL, 0);
	s->state = S_CLIENT_INFO;
	s->deadline_ms = t->now_ms + (uint64_t)t->cfg->limits.handshake_timeout_s * 1000;
	session_timer_arm(t, s);
	session_mark_dirty(t, s);
}

static void
begin_ws(struct tls_thread *t, struct session *s, const struct http_req *req)
{
	char buf[512];
	bool derp;
	int n = ws_handshake(req, buf, sizeof(buf), &derp);

	if (n < 0) {
		http_fail(t, s, 400);
		return;
	}
	session_out_append(s, buf, (size_t)n);
	s->ws = calloc(1, sizeof(*s->ws));
	if (!s->ws) {
		session_close(t, s, TLS_CLOSE_NO_MEMORY);
		return;
	}
	s->flags |= SF_WS;
	if (!derp) {
		/* derper: the subprotocol must negotiate to derp */
		session_ws_fail(t, s, WS_CLOSE_POLICY);
		return;
	}
	begin_derp(t, s, req);
}

static const char *
acme_http01(const void *ctx, const char *token, size_t n)
{
	return tls_acme_http01(tls_ctx_acme(ctx), token, n);
}

/* Handle complete request heads in s->head; keeps what follows. */
static void
serve_http(struct tls_thread *t, struct session *s)
{
	struct http_route_cfg rc = {
		.derp = t->cfg->derp,
		.home = t->cfg->home,
		.tls = s->ssl != NULL || s->rec != NULL,
		.port80 = (s->flags & SF_PORT80) != 0,
		.acme_http01 = t->cfg->cert.mode == CFG_CERT_LETSENCRYPT ? acme_http01 : NULL,
		.acme_arg = t->ctx,
		.debug_allowed = debug_allowed(s),
	};

	while (s->state == S_HTTP) {
		size_t end;

		if (session_out_pause(t, s))
			return;		/* answered once the output drains */
		end = http_head_end(s->head, s->head_len, s->head_scan);
		struct http_req req;
		char resp[8192];
		size_t resp_len = 0, rest;
		int status;

		if (!end) {
			s->head_scan = s->head_len;
			if (s->head_len >= (uint32_t)t->cfg->limits.http_head_max_bytes)
				http_fail(t, s, 431);
			return;
		}
		TLS_COUNT(&t->cnt, http_requests, 1);
		status = http_parse_request(s->head, end, &req);
		if (status) {
			http_fail(t, s, status);
			return;
		}
		switch (http_route(&req, &rc, resp, sizeof(resp), &resp_len)) {
		case HTTP_RESPOND:
			session_out_append(s, resp, resp_len);
			session_mark_dirty(t, s);
			break;
		case HTTP_RESPOND_CLOSE:
			session_out_append(s, resp, resp_len);
			session_close_after_flush(t, s, TLS_CLOSE_HTTP_DONE, t->now_ms + 5000);
			return;
		case HTTP_UPGRADE_DERP:
			begin_derp(t, s, &req);
			break;
		case HTTP_UPGRADE_WS:
			begin_ws(t, s, &req);
			break;
		}
		/* keep the bytes after the head: another request, or the
		 * DERP frames a fast-start client pipelined */
		rest = s->head_len - end;
		memmove(s->head, s->head + end, rest);
		s->head_len = (uint32_t)rest;
		s->head_scan = 0;
		if (s->state == S_HTTP) {
			s->deadline_ms = t->now_ms +
					 (uint64_t)t->cfg->limits.http_head_timeout_s * 1000;
			session_timer_arm(t, s);
		}
	}
	if ((s->state == S_CLIENT_INFO) && s->head_len) {
		uint32_t n = s->head_len;

		s->head_len = 0;
		if (s->flags & SF_WS)
			session_feed_ws(t, s, (uint8_t *)s->head, n);
		else
			session_feed_derp(t, s, (uint8_t *)s->head, n);
	}
	if (s->state != S_HTTP) {
		free(s->head);
		s->head = NULL;
		s->head_len = 0;
	}
}

void
session_http_resume(struct tls_thread *t, struct session *s)
{
	uint8_t *held = s->held;
	uint32_t n = s->held_len;

	serve_http(t, s);
	if (!n || s->state == S_DEAD || (s->flags & SF_OUT_PAUSED))
		return;
	s->held = NULL;
	s->held_len = s->held_cap = 0;
	session_consume_http(t, s, held, n);
	free(held);
}

void
session_consume_http(struct tls_thread *t, struct session *s, const uint8_t *buf,
	     size_t n)
{
	uint32_t max = (uint32_t)t->cfg->limits.http_head_max_bytes;

	if (!s->head) {
		s->head = malloc(max + 1);
		if (!s->head) {
			session_close(t, s, TLS_CLOSE_NO_MEMORY);
			return;
		}
	}
	while (n && s->state == S_HTTP) {
		size_t take = max - s->head_len < n ? max - s->head_len : n;

		memcpy(s->head + s->head_len, buf, take);
		s->head_len += (uint32_t)take;
		buf += take;
		n -= take;
		serve_http(t, s);
		if (take == 0)
			break;
	}
	/* the head is full of requests waiting for the output to drain: keep
	 * the rest (at most one read, since reading is paused meanwhile) */
	if (n && s->state == S_HTTP) {
		if (s->held_len + n > HELD_MAX ||
		    session_grow(&s->held, &s->held_cap, s->held_len + n, 4096)) {
			session_close(t, s, TLS_CLOSE_NO_MEMORY);
			return;
		}
		memcpy(s->held + s->held_len, buf, n);
		s->held_len += (uint32_t)n;
		return;
	}
	/* bytes beyond the buffer right after an upgrade belong to DERP */
	if (n && s->state == S_CLIENT_INFO) {
		if (s->flags & SF_WS)
			session_feed_ws(t, s, (uint8_t *)buf, n);
		else
			session_feed_derp(t, s, buf, n);
	}
}
