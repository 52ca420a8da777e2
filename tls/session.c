/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-session state machine of a TLS thread (see session.h for the
 * states). Reads are driven by session_on_io(); everything a session has
 * to send is assembled by session_flush(), at most once per loop
 * iteration, into one buffer and one write: already-encoded bytes first
 * (HTTP answers, ServerKey, ServerInfo), then control frames, then queued
 * packets (drain, then flush).
 *
 * Closing is two-step: session_close() counts the reason, tells the
 * forwarding lcore, frees queued packets and closes the socket; the
 * memory is freed by the thread at the end of the loop iteration, so no
 * pointer held further up the stack dangles.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <rte_branch_prediction.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "tls/admit_link.h"
#include "base/log.h"
#include "dataplane/ring_msg.h"
#include "tls/client_info.h"
#include "base/buf.h"
#include "base/clock.h"
#include "tls/acme_challenge.h"
#include "tls/handover.h"
#include "tls/handshake.h"
#include "tls/http_route.h"
#include "tls/keyfile.h"
#include "tls/session.h"
#include "tls/tls_conn.h"

enum {
	READ_BUDGET = 256 << 10,	/* bytes per session per iteration */
	RBUF_SIZE = 64 << 10,
	WBUF_SOFT = 64 << 10,		/* stop adding packets beyond this */
	OUT_KEEP = 0,			/* an idle session keeps no output buffer */
	GONE_MAX = 4096,		/* PeerGone frames pending per session */
	HELD_MAX = 256 << 10,		/* input buffered while verifying */
	MESH_WRITE_TIMEOUT_S = 30,
	CLIENT_BURST_MIN = 65568,	/* one largest frame, as derper */
};

/* A negative callback result that carries a close reason. */
#define CLOSE_RC(reason) (-(1000 + (reason)))

static const char server_info_json[] = "{\"version\":2}";

struct feed {
	struct tls_thread *t;
	struct session *s;
};

static int feed_derp(struct tls_thread *t, struct session *s,
		     const uint8_t *buf, size_t len);

void
session_mark_dirty(struct tls_thread *t, struct session *s)
{
	if (s->flags & SF_DIRTY)
		return;
	s->flags |= SF_DIRTY;
	s->next_dirty = t->dirty;
	t->dirty = s;
}

/* Room for `need` bytes in a session buffer (32-bit sizes: at most 2 GiB,
 * so a doubling can never wrap). */
static int
grow(uint8_t **buf, uint32_t *cap, size_t need, uint32_t first)
{
	size_t c = *cap;
	uint8_t *n = buf_grow(*buf, &c, need, first, UINT32_MAX / 2 + 1);

	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = (uint32_t)c;
	return 0;
}

static int
out_append(struct session *s, const void *data, size_t len)
{
	if (grow(&s->out, &s->out_cap, s->out_len + len, 512))
		return -ENOMEM;
	memcpy(s->out + s->out_len, data, len);
	s->out_len += (uint32_t)len;
	return 0;
}

static ssize_t
io_read(struct tls_thread *t, struct session *s, void *buf, size_t len)
{
	ssize_t n;

	if (s->rec)
		return tls13_read(&t->rec_eng, s->rec, s->fd, buf, len);
	if (s->ssl)
		return tls_io_read(s->ssl, buf, len);
	n = recv(s->fd, buf, len, 0);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EINTR ? -EAGAIN : -EIO;
}

static ssize_t
io_write(struct tls_thread *t, struct session *s, const void *buf, size_t len)
{
	ssize_t n;

	if (s->rec)
		return tls13_write(&t->rec_eng, s->rec, s->fd, buf, len);
	if (s->ssl)
		return tls_io_write(s->ssl, buf, len);
	n = send(s->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EINTR ? -EAGAIN : -EIO;
}

/* The bytes of one frame into the write scratch, wrapped for WebSocket
 * by the caller. */
static size_t
put_frame(uint8_t *w, uint8_t type, const void *p1, size_t n1,
	  const void *p2, size_t n2)
{
	size_t o = derp_put_header(w, type, (uint32_t)(n1 + n2));

	if (n1)
		memcpy(w + o, p1, n1);
	o += n1;
	if (n2)
		memcpy(w + o, p2, n2);
	return o + n2;
}

/* Queue already-encoded output, wrapped in a WebSocket binary message
 * when the session uses WebSocket. */
static int
out_frame(struct session *s, uint8_t type, const void *p1, size_t n1,
	  const void *p2, size_t n2)
{
	uint8_t buf[WS_MAX_HEADER + DERP_FRAME_HEADER_LEN + 128];
	size_t hl = 0, n;

	if (n1 + n2 > 128)
		return -EINVAL;
	if (s->flags & SF_WS)
		hl = ws_frame_header(buf, WS_OP_BINARY,
				     DERP_FRAME_HEADER_LEN + n1 + n2);
	n = put_frame(buf + hl, type, p1, n1, p2, n2);
	return out_append(s, buf, hl + n);
}

void
session_close(struct tls_thread *t, struct session *s, int reason)
{
	void *m;

	if (s->state == S_DEAD)
		return;
	if (reason < 0 || reason >= TLS_CLOSE_NB)
		reason = TLS_CLOSE_READ_ERROR;
	s->close_reason = (uint8_t)reason;
	TLS_COUNT(&t->cnt, closes[reason], 1);
	LOG_DEBUG("tls: session closed", "tls=%u id=%u reason=%s state=%u",
		  t->id, s->id, tls_close_reason_name(reason), s->state);
	if (s->flags & SF_REGISTERED) {
		tls_thread_session_down(t, s->key, s->id, s->gen);
		s->flags &= ~SF_REGISTERED;
	}
	if (s->flags & SF_OPEN) {
		TLS_COUNT(&t->cnt, open[s->transport], (uint64_t)-1);
		s->flags &= ~SF_OPEN;
	}
	if (s->sq.slots) {
		while ((m = sq_pop(&s->sq))) {
			TLS_COUNT(&t->cnt, drops[TLS_DROP_GONE], 1);
			rte_pktmbuf_free(m);
		}
	}
	if (s->pkt) {
		rte_pktmbuf_free(s->pkt);
		s->pkt = NULL;
	}
	heard_forget(&t->heard, &s->heard);
	session_unthrottle(t, s);
	if (reason != TLS_CLOSE_WRITE_ERROR && reason != TLS_CLOSE_READ_ERROR &&
	    reason != TLS_CLOSE_WRITE_TIMEOUT && reason != TLS_CLOSE_TLS_RECORD) {
		if (s->rec)
			tls13_close_notify(&t->rec_eng, s->rec, s->fd);
		else if (s->ssl)
			tls_io_shutdown(s->ssl);
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	s->state = S_DEAD;
}

void
session_free(struct tls_thread *t, struct session *s)
{
	if (s->ssl)
		tls_io_free(s->ssl);
	if (s->rec) {
		TLS_COUNT(&t->cnt, key_updates_in, s->rec->key_updates_in);
		TLS_COUNT(&t->cnt, key_updates_out, s->rec->key_updates_out);
		tls13_rec_free(s->rec);
		free(s->rec);
	}
	derp_rx_free(&s->rx);
	sq_uninit(&s->sq);
	free(s->ws);
	free(s->head);
	free(s->out);
	free(s->gone);
	free(s->wev);
	free(s->held);
	free(s);
}

/* Close once what is queued has been written (HTTP answers, drain). */
static void
close_after_flush(struct tls_thread *t, struct session *s, int reason,
		  uint64_t deadline_ms)
{
	s->state = S_CLOSING;
	s->close_reason = (uint8_t)reason;
	s->deadline_ms = deadline_ms;
	session_mark_dirty(t, s);
}

/* ------------------------------------------------------------------ */
/* DERP frames in                                                       */

static int
send_active(struct tls_thread *t, struct session *s)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t->link->pool);
	struct dp_msg *d;

	if (!m)
		return 0;	/* retried on the next frame */
	d = dp_msg(m);
	d->type = DP_MSG_ACTIVE;
	d->tls = (uint16_t)t->id;
	d->id = s->id;
	d->gen = s->gen;
	memcpy(d->key, s->key, DP_KEY_LEN);
	tls_thread_stage(t, m);
	s->flags |= SF_ACTIVE_ASKED;
	return 0;
}

static int
on_header(void *ctx, uint8_t type, uint32_t len, uint32_t *prefix)
{
	struct feed *f = ctx;
	struct session *s = f->s;

	TLS_COUNT(&f->t->cnt, frames_in, 1);
	if (s->state == S_CLIENT_INFO) {
		if (type != DERP_FRAME_CLIENT_INFO || len < DERP_CLIENT_INFO_MIN ||
		    len > DERP_CLIENT_INFO_MAX)
			return CLOSE_RC(TLS_CLOSE_BAD_CLIENT_INFO);
		return DERP_RX_WHOLE;
	}
	/* derper: any frame from a duplicate makes it the active one */
	if ((s->flags & (SF_DUP | SF_ACTIVE | SF_ACTIVE_ASKED)) == SF_DUP)
		send_active(f->t, s);
	switch (type) {
	case DERP_FRAME_SEND_PACKET:
		if (len < DERP_KEY_LEN || len - DERP_KEY_LEN > DERP_MAX_PACKET)
			return CLOSE_RC(TLS_CLOSE_BAD_FRAME);
		*prefix = DERP_KEY_LEN;
		return DERP_RX_STREAM;
	case DERP_FRAME_NOTE_PREFERRED:
		return len == 1 ? DERP_RX_WHOLE : CLOSE_RC(TLS_CLOSE_BAD_FRAME);
	case DERP_FRAME_PING:
		if (len < DERP_PING_MIN || len > DERP_PING_MAX)
			return CLOSE_RC(TLS_CLOSE_BAD_FRAME);
		return DERP_RX_WHOLE;
	case DERP_FRAME_PONG:
		return len == DERP_PING_LEN ? DERP_RX_WHOLE : DERP_RX_SKIP;
	case DERP_FRAME_FORWARD_PACKET:
		/* derper checks the privilege first, then the size */
		if (!(s->flags & SF_MESH))
			return CLOSE_RC(TLS_CLOSE_NOT_MESH);
		if (len < 2 * DERP_KEY_LEN || len - 2 * DERP_KEY_LEN > DERP_MAX_PACKET)
			return CLOSE_RC(TLS_CLOSE_BAD_FRAME);
		*prefix = 2 * DERP_KEY_LEN;
		return DERP_RX_STREAM;
	case DERP_FRAME_WATCH_CONNS:
		if (len != 0)
			return CLOSE_RC(TLS_CLOSE_BAD_FRAME);
		return s->flags & SF_MESH ? DERP_RX_WHOLE : CLOSE_RC(TLS_CLOSE_NOT_MESH);
	case DERP_FRAME_CLOSE_PEER:
		if (len != DERP_KEY_LEN)
			return CLOSE_RC(TLS_CLOSE_BAD_FRAME);
		return s->flags & SF_MESH ? DERP_RX_WHOLE : CLOSE_RC(TLS_CLOSE_NOT_MESH);
	default:
		return DERP_RX_SKIP;
	}
}

/* Admitted: register with the forwarding lcore and answer ServerInfo. */
static int
session_register(struct tls_thread *t, struct session *s)
{
	uint8_t box[DERP_NONCE_LEN + DERP_BOX_OVERHEAD + sizeof(server_info_json)];
	struct rte_mbuf *m;
	struct dp_msg *d;

	if (sq_init(&s->sq, (uint16_t)t->cfg->limits.send_queue_depth))
		return CLOSE_RC(TLS_CLOSE_NO_MEMORY);
	/* Register before ServerInfo is written, as derper: peers can queue
	 * packets to us at once; they go out after ServerInfo. */
	m = rte_pktmbuf_alloc(t->link->pool);
	if (!m)
		return CLOSE_RC(TLS_CLOSE_NO_MEMORY);
	d = dp_msg(m);
	d->type = DP_MSG_SESSION_UP;
	d->flags = (uint8_t)((s->flags & SF_MESH ? DP_SESS_MESH : 0) |
			     (s->flags & SF_PROBER ? DP_SESS_PROBER : 0) |
			     (s->flags & SF_NOTIDEAL ? DP_SESS_NOTIDEAL : 0));
	if (!d->flags)
		d->flags = DP_SESS_REGULAR;
	d->tls = (uint16_t)t->id;
	d->id = s->id;
	d->gen = s->gen;
	d->port = s->port;
	memcpy(d->key, s->key, DP_KEY_LEN);
	memcpy(d->ip, s->ip, sizeof(d->ip));
	tls_thread_stage(t, m);
	s->flags |= SF_REGISTERED | SF_ACTIVE;

	tls_box_seal(t->server_priv, s->key, (const uint8_t *)server_info_json,
		     sizeof(server_info_json) - 1, box);
	if (out_frame(s, DERP_FRAME_SERVER_INFO, box,
		      DERP_NONCE_LEN + DERP_BOX_OVERHEAD + sizeof(server_info_json) - 1,
		      NULL, 0))
		return CLOSE_RC(TLS_CLOSE_NO_MEMORY);
	s->state = S_RUN;
	s->deadline_ms = 0;
	{
		uint16_t jitter;

		tls_random(&jitter, sizeof(jitter));
		s->keepalive_ms = t->now_ms + DERP_KEEPALIVE_MS +
				  jitter % DERP_KEEPALIVE_JITTER_MS;
	}
	TLS_COUNT(&t->cnt, sessions_derp, 1);
	if (s->flags & SF_WS)
		TLS_COUNT(&t->cnt, sessions_ws, 1);
	s->transport = s->flags & SF_WS ? TLS_TR_WEBSOCKET :
		       s->rec || s->ssl ? TLS_TR_TLS : TLS_TR_PLAIN;
	TLS_COUNT(&t->cnt, open[s->transport], 1);
	s->flags |= SF_OPEN;
	session_mark_dirty(t, s);
	return 0;
}

/* Ask the admission thread about this client; the session waits. */
static int
request_admission(struct tls_thread *t, struct session *s)
{
	struct admit_msg m = {.id = s->id, .gen = s->gen};

	memcpy(m.key, s->key, sizeof(m.key));
	memcpy(m.ip, s->ip, sizeof(m.ip));
	if (t->admit_out >= ADMIT_RING_SIZE ||
	    rte_ring_sp_enqueue_elem(t->admit->req, &m, sizeof(m)))
		return CLOSE_RC(TLS_CLOSE_VERIFY_OVERLOAD);
	t->admit_out++;
	dp_wake_kick(t->admit->admit_wake);
	TLS_COUNT(&t->cnt, verify_requests, 1);
	s->state = S_VERIFYING;
	s->deadline_ms = t->now_ms + (uint64_t)t->cfg->verify.timeout_s * 1000;
	return 0;
}

static int
handle_client_info(struct tls_thread *t, struct session *s,
		   const uint8_t *body, uint32_t len)
{
	uint8_t *plain = malloc(len);
	struct client_info ci;
	int n;

	if (!plain)
		return CLOSE_RC(TLS_CLOSE_NO_MEMORY);
	if (tls_key_is_zero(body)) {
		free(plain);
		return CLOSE_RC(TLS_CLOSE_BAD_CLIENT_INFO);
	}
	n = tls_box_open(t->server_priv, body, body + DERP_KEY_LEN,
			 len - DERP_KEY_LEN, plain);
	if (n < 0 || client_info_parse(plain, (size_t)n, &ci)) {
		tls_key_wipe(plain, len);
		free(plain);
		return CLOSE_RC(TLS_CLOSE_BAD_CLIENT_INFO);
	}
	tls_key_wipe(plain, len);
	free(plain);

	memcpy(s->key, body, DERP_KEY_LEN);
	if (ci.has_mesh_key) {
		/* a wrong mesh key is no error: just no privileges (§7.1) */
		if (t->mesh_key &&
		    CRYPTO_memcmp(ci.mesh_key, t->mesh_key, DERP_KEY_LEN) == 0) {
			s->flags |= SF_MESH;
			TLS_COUNT(&t->cnt, mesh_sessions, 1);
		} else {
			TLS_COUNT(&t->cnt, mesh_bad_key, 1);
		}
		tls_key_wipe(ci.mesh_key, sizeof(ci.mesh_key));
	}
	if (ci.is_prober)
		s->flags |= SF_PROBER;
	if (ci.can_ack_pings)
		s->flags |= SF_CAN_ACK_PINGS;
	/* mesh peers are admitted without asking (§8) */
	if (t->admit && !(s->flags & SF_MESH))
		return request_admission(t, s);
	return session_register(t, s);
}

/* The admission thread's verdict for one of our sessions. */
void
session_verdict(struct tls_thread *t, const struct admit_msg *m)
{
	struct session *s = tls_thread_lookup(t, m->id, m->gen);
	uint8_t *held;
	uint32_t n;
	int rc;

	if (t->admit_out)
		t->admit_out--;
	if (!s || s->state != S_VERIFYING)
		return;		/* closed meanwhile (deadline, EOF, shutdown) */
	if (m->verdict != ADMIT_ALLOW) {
		/* derper closes with no DERP-level message */
		session_close(t, s, TLS_CLOSE_VERIFY_REJECTED);
		return;
	}
	TLS_COUNT(&t->cnt, verify_admitted, 1);
	rc = session_register(t, s);
	if (rc) {
		session_close(t, s, -rc - 1000);
		return;
	}
	/* what the client pipelined meanwhile, in order */
	held = s->held;
	n = s->held_len;
	s->held = NULL;
	s->held_len = s->held_cap = 0;
	if (n)
		feed_derp(t, s, held, n);
	free(held);
}

/* A mesh control message to the forwarding lcore, about `key`. */
static int
send_mesh_msg(struct tls_thread *t, struct session *s, uint8_t type,
	      const uint8_t *key)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t->link->pool);
	struct dp_msg *d;

	if (!m)
		return CLOSE_RC(TLS_CLOSE_NO_MEMORY);
	d = dp_msg(m);
	d->type = type;
	d->flags = 0;
	d->tls = (uint16_t)t->id;
	d->id = s->id;
	d->gen = s->gen;
	memcpy(d->key, key, DP_KEY_LEN);
	tls_thread_stage(t, m);
	return 0;
}

static int
handle_watch_conns(struct tls_thread *t, struct session *s)
{
	char short_key[8];

	/* a node that dialled itself: derper ignores it (§7.2) */
	if (memcmp(s->key, t->server_pub, DERP_KEY_LEN) == 0) {
		TLS_COUNT(&t->cnt, mesh_watch_self, 1);
		return 0;
	}
	TLS_COUNT(&t->cnt, mesh_watch, 1);
	tls_key_short(s->key, short_key);
	LOG_INFO("mesh: peer watches our clients", "tls=%u id=%u peer=%s",
		 t->id, s->id, short_key);
	return send_mesh_msg(t, s, DP_MSG_WATCH, s->key);
}

static int
handle_close_peer(struct tls_thread *t, struct session *s, const uint8_t *key)
{
	char who[8], target[8];

	TLS_COUNT(&t->cnt, mesh_close_peer, 1);
	tls_key_short(s->key, who);
	tls_key_short(key, target);
	LOG_INFO("mesh: ClosePeer", "peer=%s target=%s", who, target);
	return send_mesh_msg(t, s, DP_MSG_CLOSE_PEER, key);
}

static int
on_frame(void *ctx, uint8_t type, const uint8_t *body, uint32_t len)
{
	struct feed *f = ctx;
	struct session *s = f->s;

	switch (type) {
	case DERP_FRAME_CLIENT_INFO:
		return handle_client_info(f->t, s, body, len);
	case DERP_FRAME_PING:
		TLS_COUNT(&f->t->cnt, pings_in, 1);
		/* one pong pending at most; later pings are ignored */
		if (!(s->flags & SF_PONG)) {
			memcpy(s->pong, body, DERP_PING_LEN);
			s->flags |= SF_PONG;
			session_mark_dirty(f->t, s);
		}
		return 0;
	case DERP_FRAME_PONG:
		if (s->ping_sent_ns && memcmp(body, s->ping, DERP_PING_LEN) == 0) {
			uint64_t now = clock_mono_ns();
			static const uint64_t bounds[] = TLS_RTT_BOUNDS_US;
			uint64_t us = (now - s->ping_sent_ns) / 1000;
			unsigned int b = 0;

			while (b < sizeof(bounds) / sizeof(bounds[0]) && us > bounds[b])
				b++;
			TLS_COUNT(&f->t->cnt, rtt_samples, 1);
			TLS_COUNT(&f->t->cnt, rtt_us_sum, us);
			TLS_COUNT(&f->t->cnt, rtt_hist[b], 1);
			s->ping_sent_ns = 0;
		}
		return 0;
	case DERP_FRAME_NOTE_PREFERRED:
		return 0;	/* stats only in derper */
	case DERP_FRAME_WATCH_CONNS:
		return handle_watch_conns(f->t, s);
	case DERP_FRAME_CLOSE_PEER:
		return handle_close_peer(f->t, s, body);
	default:
		return 0;
	}
}

static int
on_stream_start(void *ctx, uint8_t type, const uint8_t *prefix,
		uint32_t prefix_len, uint32_t rest)
{
	struct feed *f = ctx;
	struct session *s = f->s;
	struct rte_mbuf *m;
	struct dp_msg *d;

	(void)prefix_len;
	(void)rest;
	m = rte_pktmbuf_alloc(f->t->link->pool);
	if (unlikely(!m)) {
		TLS_COUNT(&f->t->cnt, drops[TLS_DROP_NO_MBUF], 1);
		s->flags |= SF_PKT_DROP;
		return 0;
	}
	d = dp_msg(m);
	d->type = DP_MSG_SEND;
	d->tls = (uint16_t)f->t->id;
	d->id = s->id;
	d->gen = s->gen;
	if (type == DERP_FRAME_FORWARD_PACKET) {
		/* src | dst from a mesh peer: delivered here or nowhere */
		d->flags = DP_PKT_FORWARDED;
		memcpy(d->src, prefix, DP_KEY_LEN);
		memcpy(d->key, prefix + DP_KEY_LEN, DP_KEY_LEN);
		TLS_COUNT(&f->t->cnt, mesh_forward_in, 1);
	} else {
		d->flags = 0;
		memcpy(d->key, prefix, DP_KEY_LEN);
		memcpy(d->src, s->key, DP_KEY_LEN);
	}
	s->pkt = m;
	s->pkt_seg = m;
	return 0;
}

static int
on_stream_data(void *ctx, const uint8_t *data, uint32_t n)
{
	struct feed *f = ctx;
	struct session *s = f->s;

	if (s->flags & SF_PKT_DROP)
		return 0;
	while (n) {
		struct rte_mbuf *seg = s->pkt_seg;
		uint16_t room = rte_pktmbuf_tailroom(seg);
		uint32_t k;

		if (room == 0) {
			struct rte_mbuf *next = rte_pktmbuf_alloc(f->t->link->pool);

			if (unlikely(!next)) {
				TLS_COUNT(&f->t->cnt, drops[TLS_DROP_NO_MBUF], 1);
				rte_pktmbuf_free(s->pkt);
				s->pkt = NULL;
				s->flags |= SF_PKT_DROP;
				return 0;
			}
			seg->next = next;
			s->pkt->nb_segs++;
			s->pkt_seg = seg = next;
			room = rte_pktmbuf_tailroom(seg);
		}
		k = n < room ? n : room;
		memcpy(rte_pktmbuf_mtod_offset(seg, uint8_t *, seg->data_len),
		       data, k);
		seg->data_len = (uint16_t)(seg->data_len + k);
		s->pkt->pkt_len += k;
		data += k;
		n -= k;
	}
	return 0;
}

static int
on_stream_end(void *ctx)
{
	struct feed *f = ctx;
	struct session *s = f->s;
	struct rte_mbuf *m = s->pkt;
	uint8_t head[DERP_DISCO_MAGIC_LEN];

	if (s->flags & SF_PKT_DROP) {
		s->flags &= ~SF_PKT_DROP;
		return 0;
	}
	if (m->pkt_len >= DERP_DISCO_MIN &&
	    derp_looks_like_disco(rte_pktmbuf_read(m, 0, sizeof(head), head),
				  m->pkt_len))
		dp_msg(m)->flags |= DP_PKT_DISCO;
	TLS_COUNT(&f->t->cnt, packets_in, 1);
	TLS_COUNT(&f->t->cnt, bytes_in, m->pkt_len);
	s->pkt = NULL;
	tls_thread_stage(f->t, m);
	return 0;
}

static const struct derp_rx_ops derp_ops = {
	.on_header = on_header,
	.on_frame = on_frame,
	.on_stream_start = on_stream_start,
	.on_stream_data = on_stream_data,
	.on_stream_end = on_stream_end,
};

/* Keep DERP bytes that arrive while the session is being verified. */
static int
hold(struct tls_thread *t, struct session *s, const uint8_t *buf, size_t len)
{
	if (!len)
		return 0;
	if (s->held_len + len > HELD_MAX) {
		session_close(t, s, TLS_CLOSE_VERIFY_OVERLOAD);
		return -1;
	}
	if (grow(&s->held, &s->held_cap, s->held_len + len, 4096)) {
		session_close(t, s, TLS_CLOSE_NO_MEMORY);
		return -1;
	}
	memcpy(s->held + s->held_len, buf, len);
	s->held_len += (uint32_t)len;
	return 0;
}

/* Feed DERP stream bytes; closes the session on a violation. The
 * handshake frame is parsed alone: if it sends the session to admission,
 * what follows it waits in `held` for the verdict. */
static int
feed_derp(struct tls_thread *t, struct session *s, const uint8_t *buf,
	  size_t len)
{
	struct feed f = {t, s};
	size_t used = 0;
	int rc = 0;

	if (s->state == S_VERIFYING)
		return hold(t, s, buf, len);
	if (s->state == S_CLIENT_INFO) {
		rc = derp_rx_feed(&s->rx, buf, len, &derp_ops, &f, &used, true);
		if (rc >= 0) {
			buf += used;
			len -= used;
			if (s->state == S_VERIFYING)
				return hold(t, s, buf, len);
			rc = 0;
		}
	}
	if (rc == 0 && len && s->state == S_RUN)
		rc = derp_rx_feed(&s->rx, buf, len, &derp_ops, &f, NULL, false);
	if (rc == 0)
		return 0;
	if (rc <= -1000)
		session_close(t, s, -rc - 1000);
	else
		session_close(t, s, rc == -ENOMEM ? TLS_CLOSE_NO_MEMORY
						  : TLS_CLOSE_BAD_FRAME);
	return -1;
}

static int
ws_on_data(void *ctx, uint8_t *data, size_t n)
{
	struct feed *f = ctx;

	if (f->s->state != S_CLIENT_INFO && f->s->state != S_VERIFYING &&
	    f->s->state != S_RUN)
		return 0;
	return feed_derp(f->t, f->s, data, n) ? -1 : 0;
}

static int
ws_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t n)
{
	struct feed *f = ctx;
	uint8_t buf[WS_MAX_HEADER + 125];
	size_t h;

	switch (opcode) {
	case WS_OP_PING:
		h = ws_frame_header(buf, WS_OP_PONG, n);
		memcpy(buf + h, payload, n);
		if (out_append(f->s, buf, h + n))
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

static void
ws_fail(struct tls_thread *t, struct session *s, uint16_t status)
{
	uint8_t buf[8];
	size_t n = ws_close_frame(buf, status);

	out_append(s, buf, n);
	s->flags |= SF_WS_CLOSE_SENT;
	close_after_flush(t, s, TLS_CLOSE_WEBSOCKET, t->now_ms + 1000);
}

static void
feed_ws(struct tls_thread *t, struct session *s, uint8_t *buf, size_t len)
{
	struct feed f = {t, s};
	int rc = ws_rx_feed(s->ws, buf, len, &ws_ops, &f);

	if (rc == 0 || s->state == S_DEAD)
		return;
	if (rc > 0)
		ws_fail(t, s, (uint16_t)rc);
	else if (rc <= -1000)
		session_close(t, s, -rc - 1000);
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */

static void
http_fail(struct tls_thread *t, struct session *s, int status)
{
	char buf[512];
	size_t n = http_error_response(status, buf, sizeof(buf));

	out_append(s, buf, n);
	close_after_flush(t, s, TLS_CLOSE_HTTP_BAD_REQUEST, t->now_ms + 1000);
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
		out_append(s, hdr, sizeof(hdr) - 1);
		out_append(s, hex, 64);
		out_append(s, "\r\n\r\n", 4);
	}
	memcpy(key_frame, DERP_MAGIC, DERP_MAGIC_LEN);
	memcpy(key_frame + DERP_MAGIC_LEN, t->server_pub, DERP_KEY_LEN);
	out_frame(s, DERP_FRAME_SERVER_KEY, key_frame, sizeof(key_frame), NULL, 0);
	s->state = S_CLIENT_INFO;
	s->deadline_ms = t->now_ms + (uint64_t)t->cfg->limits.handshake_timeout_s * 1000;
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
	out_append(s, buf, (size_t)n);
	s->ws = calloc(1, sizeof(*s->ws));
	if (!s->ws) {
		session_close(t, s, TLS_CLOSE_NO_MEMORY);
		return;
	}
	s->flags |= SF_WS;
	if (!derp) {
		/* derper: the subprotocol must negotiate to derp */
		ws_fail(t, s, WS_CLOSE_POLICY);
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
		size_t end = http_head_end(s->head, s->head_len, s->head_scan);
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
			out_append(s, resp, resp_len);
			session_mark_dirty(t, s);
			break;
		case HTTP_RESPOND_CLOSE:
			out_append(s, resp, resp_len);
			close_after_flush(t, s, TLS_CLOSE_HTTP_DONE, t->now_ms + 5000);
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
		if (s->state == S_HTTP)
			s->deadline_ms = t->now_ms +
					 (uint64_t)t->cfg->limits.http_head_timeout_s * 1000;
	}
	if ((s->state == S_CLIENT_INFO) && s->head_len) {
		uint32_t n = s->head_len;

		s->head_len = 0;
		if (s->flags & SF_WS)
			feed_ws(t, s, (uint8_t *)s->head, n);
		else
			feed_derp(t, s, (uint8_t *)s->head, n);
	}
	if (s->state != S_HTTP) {
		free(s->head);
		s->head = NULL;
		s->head_len = 0;
	}
}

static void
consume_http(struct tls_thread *t, struct session *s, const uint8_t *buf,
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
	/* bytes beyond the buffer right after an upgrade belong to DERP */
	if (n && s->state == S_CLIENT_INFO) {
		if (s->flags & SF_WS)
			feed_ws(t, s, (uint8_t *)buf, n);
		else
			feed_derp(t, s, buf, n);
	}
}

static void
consume(struct tls_thread *t, struct session *s, uint8_t *buf, size_t n)
{
	switch (s->state) {
	case S_HTTP:
		consume_http(t, s, buf, n);
		break;
	case S_CLIENT_INFO:
	case S_VERIFYING:
	case S_RUN:
		if (s->flags & SF_WS)
			feed_ws(t, s, buf, n);
		else
			feed_derp(t, s, buf, n);
		break;
	default:
		break;	/* closing: input is ignored */
	}
}

/* ------------------------------------------------------------------ */
/* I/O events                                                           */

static void
do_handshake(struct tls_thread *t, struct session *s)
{
	int rc = tls_io_handshake(s->ssl);

	if (rc == -EAGAIN) {
		if (tls_io_wants_write(s->ssl))
			s->flags |= SF_TLS_WANTS_WRITE;
		else
			s->flags &= ~SF_TLS_WANTS_WRITE;
		return;
	}
	if (rc) {
		session_close(t, s, TLS_CLOSE_TLS_HANDSHAKE);
		return;
	}
	s->flags &= ~SF_TLS_WANTS_WRITE;
	if (tls_acme_alpn(s->ssl)) {
		/* RFC 8737: the handshake was the whole validation */
		session_close(t, s, TLS_CLOSE_ACME_ALPN);
		return;
	}
	/* TLS 1.3: the records are ours from here, and the SSL object goes */
	s->rec = malloc(sizeof(*s->rec));
	if (s->rec && tls_handover(s->ssl, &t->rec_eng, s->rec) == 0) {
		tls_io_free(s->ssl);
		s->ssl = NULL;
		TLS_COUNT(&t->cnt, tls13_records, 1);
	} else {
		free(s->rec);
		s->rec = NULL;
		TLS_COUNT(&t->cnt, tls_openssl, 1);
	}
	s->state = S_HTTP;
	s->deadline_ms = t->now_ms + (uint64_t)t->cfg->limits.http_head_timeout_s * 1000;
}

/* limits.client_bytes_per_sec: may this session read now? Mesh peers are
 * exempt; the bucket starts full. */
static bool
rx_allowed(struct tls_thread *t, struct session *s)
{
	double rate = (double)t->cfg->limits.client_bytes_per_sec;
	double burst = (double)t->cfg->limits.client_burst_bytes;

	if (rate <= 0 || (s->flags & SF_MESH))
		return true;
	if (burst < CLIENT_BURST_MIN)
		burst = CLIENT_BURST_MIN;
	return tb_refill(&s->rx_rate, rate, burst, t->now_ms) > 0;
}

/* Stop reading until the bucket is back above zero: TCP pushes back on
 * the client; nothing is dropped. */
static void
throttle(struct tls_thread *t, struct session *s)
{
	double rate = (double)t->cfg->limits.client_bytes_per_sec;

	s->throttle_until_ms = t->now_ms + tb_wait_ms(&s->rx_rate, rate);
	if (s->flags & SF_THROTTLED)
		return;
	s->flags |= SF_THROTTLED;
	s->prev_thr = NULL;
	s->next_thr = t->throttled;
	if (t->throttled)
		t->throttled->prev_thr = s;
	t->throttled = s;
	TLS_COUNT(&t->cnt, throttles, 1);
}

void
session_unthrottle(struct tls_thread *t, struct session *s)
{
	if (!(s->flags & SF_THROTTLED))
		return;
	if (s->prev_thr)
		s->prev_thr->next_thr = s->next_thr;
	else
		t->throttled = s->next_thr;
	if (s->next_thr)
		s->next_thr->prev_thr = s->prev_thr;
	s->prev_thr = s->next_thr = NULL;
	s->flags &= ~SF_THROTTLED;
}

static void
on_readable(struct tls_thread *t, struct session *s)
{
	size_t budget = READ_BUDGET;

	if (s->flags & SF_THROTTLED)
		return;		/* its time comes from the throttled list */

	while (s->state != S_DEAD && s->state != S_CLOSING) {
		size_t len = RBUF_SIZE < budget ? RBUF_SIZE : budget;
		ssize_t n;

		if (budget == 0) {
			if (!(s->flags & SF_READ_AGAIN)) {
				s->flags |= SF_READ_AGAIN;
				s->next_read = t->read_again;
				t->read_again = s;
			}
			return;
		}
		if (s->state == S_RUN && !rx_allowed(t, s)) {
			throttle(t, s);
			return;
		}
		if (s->rec && len < TLS13_MIN_READ_BUF)
			len = TLS13_MIN_READ_BUF;	/* room for a record */
		n = io_read(t, s, t->rbuf, len);
		TLS_COUNT(&t->cnt, reads, 1);
		if (n == -EAGAIN)
			return;
		if (n == 0) {
			session_close(t, s, TLS_CLOSE_EOF);
			return;
		}
		if (n < 0) {
			session_close(t, s, n == -EPROTO ? TLS_CLOSE_TLS_RECORD :
					    n == -ENOMEM ? TLS_CLOSE_NO_MEMORY :
					    TLS_CLOSE_READ_ERROR);
			return;
		}
		budget -= (size_t)n;
		tb_debit(&s->rx_rate, (double)n);
		consume(t, s, t->rbuf, (size_t)n);
	}
}

void
session_on_io(struct tls_thread *t, struct session *s, bool readable,
	      bool writable)
{
	if (s->state == S_TLS) {
		do_handshake(t, s);
		if (s->state != S_HTTP)
			return;
		readable = true;	/* the request may already be buffered */
	}
	if (writable && s->out_off < s->out_len)
		session_mark_dirty(t, s);
	if (readable)
		on_readable(t, s);
	/* a KeyUpdate to answer, or sealed bytes the socket can take now */
	if (s->rec && s->state != S_DEAD && tls13_out_pending(s->rec))
		session_mark_dirty(t, s);
}

/* ------------------------------------------------------------------ */
/* Output                                                               */

/* Write what is in s->out. Returns 1 while blocked, 0 when empty, -1
 * when the session was closed. */
static int
write_out(struct tls_thread *t, struct session *s)
{
	/* with our TLS 1.3 records, a KeyUpdate of ours may be due even
	 * when s->out is empty: a write of nothing sends it */
	while (s->out_off < s->out_len || (s->rec && tls13_out_pending(s->rec))) {
		const uint8_t *p = s->out_len ? s->out + s->out_off : NULL;
		ssize_t n = io_write(t, s, p, s->out_len - s->out_off);

		TLS_COUNT(&t->cnt, writes, 1);
		if (n == -EAGAIN) {
			if (!s->stall_ms)
				s->stall_ms = t->now_ms;
			return 1;
		}
		if (n < 0) {
			session_close(t, s, TLS_CLOSE_WRITE_ERROR);
			return -1;
		}
		s->out_off += (uint32_t)n;
		s->stall_ms = 0;
	}
	s->out_off = s->out_len = 0;
	if (s->out_cap > OUT_KEEP) {
		free(s->out);
		s->out = NULL;
		s->out_cap = 0;
	}
	return 0;
}

/* Watcher updates, oldest first, up to about WBUF_SOFT bytes. */
static size_t
build_watch(struct tls_thread *t, struct session *s, uint8_t *w, size_t n)
{
	unsigned int nb = 0;

	while (s->wev_len && n < WBUF_SOFT) {
		const struct watch_event *e = &s->wev[s->wev_head];

		if (e->present) {
			uint8_t tail[16 + 2 + 1];

			memcpy(tail, e->ip, 16);
			tail[16] = (uint8_t)(e->port >> 8);
			tail[17] = (uint8_t)e->port;
			tail[18] = e->flags;
			n += put_frame(w + n, DERP_FRAME_PEER_PRESENT, e->key,
				       DERP_KEY_LEN, tail, sizeof(tail));
		} else {
			uint8_t reason = DP_GONE_DISCONNECTED;

			n += put_frame(w + n, DERP_FRAME_PEER_GONE, e->key,
				       DERP_KEY_LEN, &reason, 1);
		}
		s->wev_head = (s->wev_head + 1) % s->wev_cap;
		s->wev_len--;
		nb++;
	}
	TLS_COUNT(&t->cnt, watch_events_out, nb);
	if (s->wev_len == 0 && s->wev_cap > 256) {
		free(s->wev);
		s->wev = NULL;
		s->wev_cap = s->wev_head = 0;
	}
	return n;
}

/* Control frames due: pong, PeerGone, watcher updates, KeepAlive, server
 * Ping, Restarting. */
static size_t
build_control(struct tls_thread *t, struct session *s, uint8_t *w)
{
	size_t n = 0;

	if (s->flags & SF_PONG) {
		n += put_frame(w + n, DERP_FRAME_PONG, s->pong, DERP_PING_LEN, NULL, 0);
		s->flags &= ~SF_PONG;
		TLS_COUNT(&t->cnt, pongs_out, 1);
	}
	while (s->nb_gone && n < WBUF_SOFT) {
		struct pending_gone *g = &s->gone[--s->nb_gone];

		n += put_frame(w + n, DERP_FRAME_PEER_GONE, g->key, DERP_KEY_LEN,
			       &g->reason, 1);
	}
	if (s->nb_gone == 0 && s->cap_gone > 64) {
		free(s->gone);
		s->gone = NULL;
		s->cap_gone = 0;
	}
	n = build_watch(t, s, w, n);
	if (s->flags & SF_KEEPALIVE) {
		n += put_frame(w + n, DERP_FRAME_KEEP_ALIVE, NULL, 0, NULL, 0);
		s->flags &= ~SF_KEEPALIVE;
		TLS_COUNT(&t->cnt, keepalives, 1);
	}
	if (s->flags & SF_PING) {
		tls_random(s->ping, sizeof(s->ping));
		n += put_frame(w + n, DERP_FRAME_PING, s->ping, DERP_PING_LEN, NULL, 0);
		s->ping_sent_ns = clock_mono_ns();
		s->flags &= ~SF_PING;
	}
	if (s->flags & SF_HEALTH) {
		/* the one problem we report: a connection that no longer gets
		 * its key's packets because a newer one does (§6.9) */
		static const char dup[] =
			"another connection for this node key is active on this DERP server";
		bool bad = (s->flags & (SF_DUP | SF_ACTIVE)) == SF_DUP;

		n += put_frame(w + n, DERP_FRAME_HEALTH, dup, bad ? sizeof(dup) - 1 : 0,
			       NULL, 0);
		s->flags &= ~SF_HEALTH;
		s->flags = bad ? s->flags | SF_UNHEALTHY : s->flags & ~SF_UNHEALTHY;
	}
	if (s->flags & SF_RESTARTING) {
		uint8_t p[8];
		uint32_t a = (uint32_t)t->cfg->shutdown.reconnect_in_ms;
		uint32_t b = (uint32_t)t->cfg->shutdown.try_for_ms;

		p[0] = (uint8_t)(a >> 24); p[1] = (uint8_t)(a >> 16);
		p[2] = (uint8_t)(a >> 8); p[3] = (uint8_t)a;
		p[4] = (uint8_t)(b >> 24); p[5] = (uint8_t)(b >> 16);
		p[6] = (uint8_t)(b >> 8); p[7] = (uint8_t)b;
		n += put_frame(w + n, DERP_FRAME_RESTARTING, p, sizeof(p), NULL, 0);
		s->flags &= ~SF_RESTARTING;
		TLS_COUNT(&t->cnt, restarting_sent, 1);
	}
	return n;
}

/* Queued packets as RecvPacket frames, up to about WBUF_SOFT bytes. */
static size_t
build_packets(struct tls_thread *t, struct session *s, uint8_t *w, size_t n,
	      unsigned int *nb_pkts)
{
	struct rte_mbuf *m;

	while (n < WBUF_SOFT && (m = sq_pop(&s->sq))) {
		struct dp_msg *d = dp_msg(m);
		uint32_t len = rte_pktmbuf_pkt_len(m);

		n += derp_put_header(w + n, DERP_FRAME_RECV_PACKET, DERP_KEY_LEN + len);
		memcpy(w + n, d->src, DERP_KEY_LEN);
		n += DERP_KEY_LEN;
		for (struct rte_mbuf *seg = m; seg; seg = seg->next) {
			memcpy(w + n, rte_pktmbuf_mtod(seg, void *), seg->data_len);
			n += seg->data_len;
		}
		if (heard_add(&t->heard, &s->heard, s->id, s->gen, d->src))
			LOG_WARN("tls: heard index full", "tls=%u", t->id);
		TLS_COUNT(&t->cnt, bytes_out, len);
		(*nb_pkts)++;
		rte_pktmbuf_free(m);
	}
	return n;
}

void
session_flush(struct tls_thread *t, struct session *s)
{
	uint8_t *w = t->wbuf + WS_MAX_HEADER;
	unsigned int nb_pkts = 0;
	size_t n, hl;
	ssize_t wr;

	s->flags &= ~SF_DIRTY;
	if (s->state == S_DEAD || s->state == S_TLS)
		return;
	if (write_out(t, s))
		return;
	if (s->state == S_RUN || (s->state == S_CLOSING && s->sq.slots)) {
		n = build_control(t, s, w);
		if (s->sq.slots)
			n = build_packets(t, s, w, n, &nb_pkts);
		if (n) {
			hl = 0;
			if (s->flags & SF_WS) {
				uint8_t h[WS_MAX_HEADER];

				hl = ws_frame_header(h, WS_OP_BINARY, n);
				memcpy(w - hl, h, hl);
			}
			wr = io_write(t, s, w - hl, n + hl);
			TLS_COUNT(&t->cnt, writes, 1);
			if (wr < 0 && wr != -EAGAIN) {
				TLS_COUNT(&t->cnt, drops[TLS_DROP_WRITE_ERROR], nb_pkts);
				session_close(t, s, TLS_CLOSE_WRITE_ERROR);
				return;
			}
			TLS_COUNT(&t->cnt, packets_out, nb_pkts);
			if (wr < 0)
				wr = 0;
			if ((size_t)wr < n + hl) {
				/* A partial write is not a full socket: keep
				 * writing until EAGAIN. After EAGAIN, TLS wants
				 * these exact bytes again, so they are kept. */
				if (out_append(s, w - hl + wr, n + hl - (size_t)wr)) {
					session_close(t, s, TLS_CLOSE_NO_MEMORY);
					return;
				}
				if (write_out(t, s))
					return;
			}
			s->stall_ms = 0;
			/* more queued than one buffer: come back next round */
			if (sq_len(&s->sq) || s->nb_gone || s->wev_len)
				session_mark_dirty(t, s);
		}
	}
	if (s->state == S_CLOSING && s->out_off == s->out_len &&
	    (!s->sq.slots || sq_len(&s->sq) == 0) &&
	    !(s->flags & (SF_RESTARTING | SF_PONG | SF_KEEPALIVE)))
		session_close(t, s, s->close_reason);
}

/* ------------------------------------------------------------------ */
/* From the forwarding lcore                                            */

void
session_deliver(struct tls_thread *t, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct session *s = tls_thread_lookup(t, d->id, d->gen);
	void *dropped;

	if (!s || s->state != S_RUN) {
		TLS_COUNT(&t->cnt, drops[TLS_DROP_GONE], 1);
		rte_pktmbuf_free(m);
		return;
	}
	dropped = sq_push(&s->sq, d->flags & DP_PKT_DISCO ? SQ_DISCO : SQ_DATA, m);
	if (dropped) {
		TLS_COUNT(&t->cnt, drops[TLS_DROP_QUEUE_HEAD], 1);
		rte_pktmbuf_free(dropped);
	}
	{
		static const uint32_t bounds[] = TLS_SQ_BOUNDS;
		uint32_t depth = sq_len(&s->sq);
		unsigned int b = 0;

		while (b < sizeof(bounds) / sizeof(bounds[0]) && depth > bounds[b])
			b++;
		TLS_COUNT(&t->cnt, sq_hist[b], 1);
		TLS_COUNT(&t->cnt, sq_depth_sum, depth);
	}
	session_mark_dirty(t, s);
}

void
session_peer_gone(struct tls_thread *t, struct session *s,
		  const uint8_t key[32], uint8_t reason, bool limit)
{
	if (s->state != S_RUN)
		return;
	if (limit) {
		/* derper: NotHere at most 1/s per connection, burst 3 */
		if (!tb_take(&s->nothere, 1, 3, t->now_ms, 1))
			return;
	}
	if (s->nb_gone == s->cap_gone) {
		uint32_t cap = s->cap_gone ? s->cap_gone * 2 : 4;
		struct pending_gone *g;

		if (cap > GONE_MAX)
			return;
		g = realloc(s->gone, sizeof(*g) * cap);
		if (!g)
			return;
		s->gone = g;
		s->cap_gone = cap;
	}
	memcpy(s->gone[s->nb_gone].key, key, 32);
	s->gone[s->nb_gone].reason = reason;
	s->nb_gone++;
	if (reason == DP_GONE_NOT_HERE)
		TLS_COUNT(&t->cnt, peer_gone_not_here, 1);
	else
		TLS_COUNT(&t->cnt, peer_gone_disconnected, 1);
	session_mark_dirty(t, s);
}

/* ------------------------------------------------------------------ */
/* Timers and shutdown                                                  */

void
session_timers(struct tls_thread *t, struct session *s)
{
	int64_t wt = s->flags & SF_MESH ? MESH_WRITE_TIMEOUT_S
					: t->cfg->limits.tcp_write_timeout_s;

	if (s->state == S_DEAD)
		return;
	if (s->deadline_ms && t->now_ms >= s->deadline_ms) {
		session_close(t, s, s->state == S_CLOSING ? s->close_reason :
				    s->state == S_VERIFYING ? TLS_CLOSE_VERIFY_TIMEOUT :
							      TLS_CLOSE_HANDSHAKE_TIMEOUT);
		return;
	}
	if (s->stall_ms && wt > 0 && t->now_ms - s->stall_ms >= (uint64_t)wt * 1000) {
		TLS_COUNT(&t->cnt, drops[TLS_DROP_WRITE_ERROR],
			  s->sq.slots ? sq_len(&s->sq) : 0);
		session_close(t, s, TLS_CLOSE_WRITE_TIMEOUT);
		return;
	}
	if (s->state == S_RUN && t->now_ms >= s->keepalive_ms) {
		s->flags |= SF_KEEPALIVE;
		if ((s->flags & SF_CAN_ACK_PINGS) && !s->ping_sent_ns)
			s->flags |= SF_PING;
		else
			s->ping_sent_ns = 0;	/* unanswered: try again next time */
		s->keepalive_ms = t->now_ms + DERP_KEEPALIVE_MS +
				  (s->id * 7919u) % DERP_KEEPALIVE_JITTER_MS;
		session_mark_dirty(t, s);
	}
}

void
session_watch_event(struct tls_thread *t, struct session *s,
		    const struct dp_msg *d)
{
	struct watch_event *e;

	if (s->state != S_RUN)
		return;
	if (s->wev_len == s->wev_cap) {
		/* grow the ring buffer, unrolling it */
		uint32_t cap = s->wev_cap ? s->wev_cap * 2 : 64;
		struct watch_event *n = malloc(sizeof(*n) * cap);

		if (!n) {
			session_close(t, s, TLS_CLOSE_NO_MEMORY);
			return;
		}
		for (uint32_t i = 0; i < s->wev_len; i++)
			n[i] = s->wev[(s->wev_head + i) % s->wev_cap];
		free(s->wev);
		s->wev = n;
		s->wev_cap = cap;
		s->wev_head = 0;
	}
	e = &s->wev[(s->wev_head + s->wev_len) % s->wev_cap];
	memcpy(e->key, d->key, DERP_KEY_LEN);
	e->present = d->type == DP_MSG_PEER_PRESENT;
	memcpy(e->ip, d->ip, 16);
	e->port = d->port;
	e->flags = d->flags;
	s->wev_len++;
	session_mark_dirty(t, s);
}

void
session_dup_state(struct tls_thread *t, struct session *s, uint8_t flags)
{
	bool bad;

	s->flags &= ~(SF_DUP | SF_ACTIVE | SF_ACTIVE_ASKED);
	if (flags & DP_DUP_SET)
		s->flags |= SF_DUP;
	if (flags & DP_DUP_ACTIVE)
		s->flags |= SF_ACTIVE;
	/* tell the client when it stops or starts getting its packets */
	bad = (s->flags & (SF_DUP | SF_ACTIVE)) == SF_DUP;
	if (s->state == S_RUN && bad != !!(s->flags & SF_UNHEALTHY)) {
		s->flags |= SF_HEALTH;
		session_mark_dirty(t, s);
	}
}

void
session_start_drain(struct tls_thread *t, struct session *s)
{
	uint64_t deadline = t->drain_deadline_ms;

	switch (s->state) {
	case S_RUN:
		s->flags |= SF_RESTARTING;
		close_after_flush(t, s, TLS_CLOSE_SHUTDOWN, deadline);
		break;
	case S_CLOSING:
		if (!s->deadline_ms || s->deadline_ms > deadline)
			s->deadline_ms = deadline;
		break;
	case S_DEAD:
		break;
	default:
		session_close(t, s, TLS_CLOSE_SHUTDOWN);
		break;
	}
}
