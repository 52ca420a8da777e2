/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP frames from a client (docs/protocol.md §4-§7): the ClientInfo
 * handshake and registration, then every frame of an established session;
 * SendPacket and ForwardPacket payloads stream straight into the mbuf that
 * goes to the forwarding lcore. Input that arrives while the client is
 * being verified is held, bounded, until the verdict.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "base/clock.h"
#include "base/log.h"
#include "dataplane/ring_msg.h"
#include "tls/client_info.h"
#include "tls/handshake.h"
#include "tls/keyfile.h"
#include "tls/session_int.h"

static const char server_info_json[] = "{\"version\":2}";

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
int
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
	if (session_out_frame(s, DERP_FRAME_SERVER_INFO, box,
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
		session_timer_arm(t, s);
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
		return session_request_admission(t, s);
	return session_register(t, s);
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
	/* The pool's last eighth is for packets of one mbuf (the interactive
	 * kind: disco, pings, small datagrams) and the forwarder's notices, so
	 * a flood of large packets cannot leave them nothing. (The count
	 * walks the lcores' caches: one check per large packet only.) */
	if (rest > RTE_MBUF_DEFAULT_DATAROOM - RTE_PKTMBUF_HEADROOM &&
	    rte_mempool_avail_count(f->t->link->pool) <
		    f->t->pool_reserve + rest / RTE_MBUF_DEFAULT_DATAROOM + 1) {
		TLS_COUNT(&f->t->cnt, drops[TLS_DROP_POOL_RESERVE], 1);
		s->flags |= SF_PKT_DROP;
		return 0;
	}
	m = rte_pktmbuf_alloc(f->t->link->pool);
	if (unlikely(!m)) {
		TLS_COUNT(&f->t->cnt, drops[TLS_DROP_NO_MBUF], 1);
		s->flags |= SF_PKT_DROP;
		return 0;
	}
	d = dp_msg(m);
	d->type = DP_MSG_SEND;
	d->tsc_in = rte_get_tsc_cycles();
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
	if (session_grow(&s->held, &s->held_cap, s->held_len + len, 4096)) {
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
int
session_feed_derp(struct tls_thread *t, struct session *s, const uint8_t *buf,
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
