/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The life of a session on its TLS thread (states in session.h): the
 * handshake, reading (a budget per iteration, the client's byte rate),
 * handing what was read to the parser of the session's state, timers,
 * duplicate-key state, drain and close.
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
#include <unistd.h>

#include <rte_mbuf.h>

#include "base/log.h"
#include "dataplane/ring_msg.h"
#include "tls/acme_challenge.h"
#include "tls/handover.h"
#include "tls/session_int.h"
#include "tls/tls_conn.h"

void
session_mark_dirty(struct tls_thread *t, struct session *s)
{
	if ((s->flags & SF_DIRTY) || s->state == S_DEAD)
		return;
	s->flags |= SF_DIRTY;
	s->next_dirty = t->dirty;
	t->dirty = s;
}

/* *drained: the socket gave less than was asked, so it is empty for now
 * (OpenSSL's reads do not say: read on until EAGAIN there). */
static ssize_t
io_read(struct tls_thread *t, struct session *s, void *buf, size_t len,
	bool *drained)
{
	ssize_t n;

	*drained = false;
	if (s->rec) {
		n = tls13_read(&t->rec_eng, s->rec, s->fd, buf, len);
		*drained = s->rec->flags & TLS13_DRAINED;
		return n;
	}
	if (s->ssl)
		return tls_io_read(s->ssl, buf, len);
	n = recv(s->fd, buf, len, 0);
	if (n >= 0) {
		*drained = (size_t)n < len;
		return n;
	}
	return errno == EAGAIN || errno == EINTR ? -EAGAIN : -EIO;
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
			session_unqueued(t, s, m);
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
	tw_cancel(&t->wheel, &s->timer);
	s->next_dead = t->dead;
	t->dead = s;
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
void
session_close_after_flush(struct tls_thread *t, struct session *s, int reason,
		  uint64_t deadline_ms)
{
	s->state = S_CLOSING;
	s->close_reason = (uint8_t)reason;
	s->deadline_ms = deadline_ms;
	session_timer_arm(t, s);
	session_mark_dirty(t, s);
}

static void
consume(struct tls_thread *t, struct session *s, uint8_t *buf, size_t n)
{
	switch (s->state) {
	case S_HTTP:
		session_consume_http(t, s, buf, n);
		break;
	case S_CLIENT_INFO:
	case S_VERIFYING:
	case S_RUN:
		if (s->flags & SF_WS)
			session_feed_ws(t, s, buf, n);
		else
			session_feed_derp(t, s, buf, n);
		break;
	default:
		break;	/* closing: input is ignored */
	}
}

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
	session_timer_arm(t, s);
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

bool
session_out_pause(struct tls_thread *t, struct session *s)
{
	if (s->flags & SF_OUT_PAUSED)
		return true;
	if (session_out_unsent(s) <= OUT_PAUSE)
		return false;
	s->flags |= SF_OUT_PAUSED;
	TLS_COUNT(&t->cnt, output_pauses, 1);
	return true;
}

void
session_out_resume(struct tls_thread *t, struct session *s)
{
	s->flags &= ~SF_OUT_PAUSED;
	/* edge-triggered: what the socket holds is read on our initiative */
	if (!(s->flags & SF_READ_AGAIN)) {
		s->flags |= SF_READ_AGAIN;
		s->next_read = t->read_again;
		t->read_again = s;
	}
}

static void
on_readable(struct tls_thread *t, struct session *s)
{
	size_t budget = READ_BUDGET;
	bool drained;

	if (s->flags & SF_THROTTLED)
		return;		/* its time comes from the throttled list */
	if (s->state == S_HTTP && (s->head_len || s->held_len))
		session_http_resume(t, s);	/* requests that waited */

	while (s->state != S_DEAD && s->state != S_CLOSING) {
		size_t len = RBUF_SIZE < budget ? RBUF_SIZE : budget;
		ssize_t n;

		if (budget == 0) {
			TLS_COUNT(&t->cnt, read_yields, 1);
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
		/* a client's own requests wait for their answers to drain;
		 * an established DERP session's output is packets relayed to
		 * it, bounded by its queue budgets and the write timeout, and
		 * must not hold up what it sends */
		if (s->state != S_RUN && session_out_pause(t, s))
			return;		/* output drains first (write_out) */
		if (s->rec && len < TLS13_MIN_READ_BUF)
			len = TLS13_MIN_READ_BUF;	/* room for a record */
		n = io_read(t, s, t->rbuf, len, &drained);
		TLS_COUNT(&t->cnt, reads, 1);
		if (n == -EAGAIN) {
			/* a short read left part of a record; after a FIN
			 * epoll reported, no event will come: read on to the
			 * end of the stream (each pass took bytes or ends) */
			if (drained && (s->flags & SF_HUP))
				continue;
			return;
		}
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
		/* a read may return more than the budget left (a whole record
		 * is at least TLS13_MIN_READ_BUF): saturate, never wrap */
		budget = (size_t)n < budget ? budget - (size_t)n : 0;
		t->unserviced += (size_t)n;
		tb_debit(&s->rx_rate, (double)n);
		consume(t, s, t->rbuf, (size_t)n);
		/* Edge-triggered: a byte that arrives from here on raises a
		 * new event, so a short read ends the turn without the recv
		 * that would only say EAGAIN (one syscall per wake-up, about
		 * a tenth of a relayed packet's cost at moderate load). A
		 * FIN already reported has no edge left to raise: read on
		 * to the end of the stream then. */
		if (drained && !(s->flags & SF_HUP))
			return;
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

/* The earliest moment session_timers() has something to do for s; 0 for
 * none. */
static uint64_t
next_due(const struct tls_thread *t, const struct session *s)
{
	int64_t wt = s->flags & SF_MESH ? MESH_WRITE_TIMEOUT_S
					: t->cfg->limits.tcp_write_timeout_s;
	uint64_t due = s->deadline_ms;

	if (s->stall_ms && wt > 0 && (!due || s->stall_ms + (uint64_t)wt * 1000 < due))
		due = s->stall_ms + (uint64_t)wt * 1000;
	if (s->state == S_RUN && s->keepalive_ms && (!due || s->keepalive_ms < due))
		due = s->keepalive_ms;
	return due;
}

void
session_timer_arm(struct tls_thread *t, struct session *s)
{
	uint64_t due = s->state == S_DEAD ? 0 : next_due(t, s);

	if (due)
		tw_arm(&t->wheel, &s->timer, due);
	else
		tw_cancel(&t->wheel, &s->timer);
}

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
		session_close_after_flush(t, s, TLS_CLOSE_SHUTDOWN, deadline);
		break;
	case S_CLOSING:
		if (!s->deadline_ms || s->deadline_ms > deadline)
			s->deadline_ms = deadline;
		session_timer_arm(t, s);
		break;
	case S_DEAD:
		break;
	default:
		session_close(t, s, TLS_CLOSE_SHUTDOWN);
		break;
	}
}
