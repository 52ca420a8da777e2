/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a session sends. Everything is assembled by session_flush(), at
 * most once per loop iteration, into one buffer and one write: bytes
 * already encoded first (HTTP answers, ServerKey, ServerInfo), then
 * control frames (watcher updates, PeerGone, Pong, KeepAlive, Health),
 * then queued packets (drain, then flush). Packets and PeerGone from the
 * forwarding lcore, and watcher events, are queued here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "base/buf.h"
#include "base/clock.h"
#include "dataplane/ring_msg.h"
#include "tls/handshake.h"
#include "tls/record.h"
#include "tls/session_int.h"
#include "tls/tls_conn.h"

/* Room for `need` bytes in a session buffer (32-bit sizes: at most 2 GiB,
 * so a doubling can never wrap). */
int
session_grow(uint8_t **buf, uint32_t *cap, size_t need, uint32_t first)
{
	size_t c = *cap;
	uint8_t *n = buf_grow(*buf, &c, need, first, UINT32_MAX / 2 + 1);

	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = (uint32_t)c;
	return 0;
}

int
session_out_append(struct session *s, const void *data, size_t len)
{
	if (session_grow(&s->out, &s->out_cap, s->out_len + len, 512))
		return -ENOMEM;
	memcpy(s->out + s->out_len, data, len);
	s->out_len += (uint32_t)len;
	return 0;
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
int
session_out_frame(struct session *s, uint8_t type, const void *p1, size_t n1,
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
	return session_out_append(s, buf, hl + n);
}

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
			if (!s->stall_ms) {
				s->stall_ms = t->now_ms;
				session_timer_arm(t, s);
			}
			return 1;
		}
		if (n < 0) {
			session_close(t, s, TLS_CLOSE_WRITE_ERROR);
			return -1;
		}
		s->out_off += (uint32_t)n;
		s->stall_ms = 0;
		if ((s->flags & SF_OUT_PAUSED) && session_out_unsent(s) <= OUT_PAUSE / 2)
			session_out_resume(t, s);
	}
	s->out_off = s->out_len = 0;
	if (s->flags & SF_OUT_PAUSED)
		session_out_resume(t, s);
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

/* The forward-delay histogram (TLS_FWD_BOUNDS_US): most packets land in
 * the first buckets, so the walk is short. */
static void
count_delay(struct tls_thread *t, uint64_t tsc)
{
	unsigned int b = 0;

	while (b < TLS_FWD_BUCKETS - 1 && tsc > t->fwd_bounds_tsc[b])
		b++;
	TLS_COUNT(&t->cnt, fwd_hist[b], 1);
	TLS_COUNT(&t->cnt, fwd_tsc_sum, tsc);
}

/* Queued packets as RecvPacket frames, up to about WBUF_SOFT bytes. */
static size_t
build_packets(struct tls_thread *t, struct session *s, uint8_t *w, size_t n,
	      unsigned int *nb_pkts)
{
	uint64_t now = rte_get_tsc_cycles();
	struct rte_mbuf *m;

	while (n < WBUF_SOFT && (m = sq_pop(&s->sq))) {
		struct dp_msg *d = dp_msg(m);
		uint32_t len = rte_pktmbuf_pkt_len(m);

		count_delay(t, now > d->tsc_in ? now - d->tsc_in : 0);

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
		session_unqueued(t, s, m);
		rte_pktmbuf_free(m);
	}
	return n;
}

/* Write what the session has to send, as far as the socket takes it. The
 * session's place on the dirty list is the caller's business. */
static void
flush_one(struct tls_thread *t, struct session *s)
{
	uint8_t *w = t->wbuf + WS_MAX_HEADER;
	unsigned int nb_pkts = 0;
	size_t n, hl;
	ssize_t wr;

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
				if (session_out_append(s, w - hl + wr, n + hl - (size_t)wr)) {
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

void
session_flush(struct tls_thread *t, struct session *s)
{
	s->flags &= ~SF_DIRTY;
	flush_one(t, s);
}

/*
 * Memory budgets of queued packets, in buffer bytes (what a packet holds of
 * the DERP pool: 2 KiB per mbuf, 33 for a 64 KiB packet). Beside derper's
 * packet count per queue, each session may hold limits.send_queue_bytes,
 * and the thread's sessions together at most their share of half the pool,
 * so that receivers that do not read cannot take the buffers everyone else
 * needs. Over the thread's budget, the oldest packets of the biggest holder
 * go first: a session within its fair share (budget / sessions holding any)
 * is never touched, as the biggest holder is always above it.
 */
static uint32_t
cost(const struct rte_mbuf *m)
{
	return (uint32_t)m->nb_segs * RTE_MBUF_DEFAULT_DATAROOM;
}

static void
queued(struct tls_thread *t, struct session *s, const struct rte_mbuf *m)
{
	if (s->q_bytes == 0) {
		s->prev_q = NULL;
		s->next_q = t->queued;
		if (t->queued)
			t->queued->prev_q = s;
		t->queued = s;
		t->nb_queued++;
	}
	s->q_bytes += cost(m);
	t->q_bytes += cost(m);
	__atomic_store_n(&t->cnt.queued_bytes, t->q_bytes, __ATOMIC_RELAXED);
}

void
session_unqueued(struct tls_thread *t, struct session *s, const struct rte_mbuf *m)
{
	uint32_t c = cost(m);

	if (s->q_bytes == 0)
		return;
	s->q_bytes = c < s->q_bytes ? s->q_bytes - c : 0;
	t->q_bytes = c < t->q_bytes ? t->q_bytes - c : 0;
	__atomic_store_n(&t->cnt.queued_bytes, t->q_bytes, __ATOMIC_RELAXED);
	if (s->q_bytes)
		return;
	if (s->prev_q)
		s->prev_q->next_q = s->next_q;
	else
		t->queued = s->next_q;
	if (s->next_q)
		s->next_q->prev_q = s->prev_q;
	s->prev_q = s->next_q = NULL;
	t->nb_queued--;
	if (t->hog == s)
		t->hog = NULL;
}

/* Drop s's oldest queued packet for `reason`; false when it had none. */
static bool
drop_oldest(struct tls_thread *t, struct session *s, int reason)
{
	struct rte_mbuf *m = sq_drop_oldest(&s->sq);

	if (!m)
		return false;
	TLS_COUNT(&t->cnt, drops[reason], 1);
	session_unqueued(t, s, m);
	rte_pktmbuf_free(m);
	return true;
}

/* The session holding the most, if above its fair share. The last one
 * found is kept while it stays above, so a flood against many stalled
 * receivers costs one walk per victim, not one per packet. */
static struct session *
biggest_holder(struct tls_thread *t)
{
	uint64_t fair = t->nb_queued ? t->q_budget / t->nb_queued : 0;
	struct session *best = NULL;

	if (t->hog && t->hog->q_bytes > fair)
		return t->hog;
	for (struct session *s = t->queued; s; s = s->next_q)
		if (!best || s->q_bytes > best->q_bytes)
			best = s;
	t->hog = best && best->q_bytes > fair ? best : NULL;
	return t->hog;
}

static void
enforce_budgets(struct tls_thread *t, struct session *s)
{
	uint64_t cap = (uint64_t)t->cfg->limits.send_queue_bytes;

	while (s->q_bytes > cap && sq_len(&s->sq) > 1)
		drop_oldest(t, s, TLS_DROP_QUEUE_BYTES);
	while (t->q_bytes > t->q_budget) {
		struct session *h = biggest_holder(t);

		if (!h || !drop_oldest(t, h, TLS_DROP_OVER_BUDGET))
			break;
	}
}

void
session_deliver(struct tls_thread *t, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct session *s = tls_thread_lookup(t, d->id, d->gen);
	enum sq_class cls;
	void *dropped;

	if (!s || s->state != S_RUN) {
		TLS_COUNT(&t->cnt, drops[TLS_DROP_GONE], 1);
		rte_pktmbuf_free(m);
		return;
	}
	cls = d->flags & DP_PKT_DISCO ? SQ_DISCO : SQ_DATA;
	if (sq_full(&s->sq, cls) && !s->stall_ms && s->out_off == s->out_len) {
		/* derper's writer drains a queue while its readers fill it, so
		 * its queue overflows only when the socket is full. Here a
		 * burst read in one turn arrives at once: write before
		 * dropping, and drop only what the socket cannot take. A
		 * socket already known full (stalled, output pending) is not
		 * tried again per packet: EPOLLOUT says when it drains. */
		TLS_COUNT(&t->cnt, early_flushes, 1);
		flush_one(t, s);
		if (s->state != S_RUN) {
			TLS_COUNT(&t->cnt, drops[TLS_DROP_GONE], 1);
			rte_pktmbuf_free(m);
			return;
		}
	}
	dropped = sq_push(&s->sq, cls, m);
	if (dropped) {
		TLS_COUNT(&t->cnt, drops[TLS_DROP_QUEUE_HEAD], 1);
		session_unqueued(t, s, dropped);
		rte_pktmbuf_free(dropped);
	}
	queued(t, s, m);
	enforce_budgets(t, s);
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

void
session_watch_event(struct tls_thread *t, struct session *s,
		    const struct dp_msg *d)
{
	struct watch_event *e;

	if (s->state != S_RUN)
		return;
	if (s->wev_len == s->wev_cap) {
		/* session_grow the ring buffer, unrolling it */
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
