/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One TLS thread. Its jobs, each loop iteration:
 *   1. wait in epoll (or not at all when work is pending);
 *   2. accept new connections, run TLS handshakes, read every readable
 *      session (bounded per session; the rest is read next time);
 *   3. hand the frames read to the forwarding lcore (one burst), or,
 *      under inline forwarding, run the forwarder itself;
 *   4. drain the dp->tls ring into the sessions' queues;
 *   5. write each session that has something to send, once;
 *   6. every 250 ms, run deadlines, write stalls and keepalives;
 *   7. free the sessions closed during the iteration.
 * It sleeps in epoll_wait when idle; the forwarding lcore kicks its
 * eventfd when it enqueues while the thread sleeps (dataplane/wake.h).
 * Inline, it follows the lcore's idle policy instead (poll again while
 * work is recent, else sleep), and its epoll also watches the
 * forwarder's eventfd, which mesh link threads kick.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "tls/admit_link.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/sched_slice.h"
#include "dataplane/ring_msg.h"
#include "tls/listener.h"
#include "tls/session.h"
#include "tls/tls_conn.h"
#include "tls/tls_thread.h"

enum {
	EVENTS = 256,
	RING_BURST = 64,
	RING_BUDGET = 4096,		/* messages per iteration */
	SERVICE_BYTES = 128 << 10,	/* read between two services of the rings */
	SWEEP_MS = 250,
	RBUF_SIZE = 64 << 10,
	WBUF_SIZE = (64 << 10) + (64 << 10) + 1024,
};

#define TAG_LISTEN UINT64_MAX
#define TAG_WAKE (UINT64_MAX - 1)
#define TAG_LISTEN80 (UINT64_MAX - 2)
#define TAG_FWD (UINT64_MAX - 3)	/* inline forwarder's eventfd */

struct session *
tls_thread_lookup(struct tls_thread *t, uint32_t id, uint32_t gen)
{
	struct session *s;

	if (id >= t->nb_slots)
		return NULL;
	s = t->slots[id];
	return s && s->gen == gen && s->state != S_DEAD ? s : NULL;
}

static bool
is_control(struct rte_mbuf *m)
{
	return dp_msg(m)->type != DP_MSG_SEND;
}

static void
backlog_push(struct tls_thread *t, struct rte_mbuf *m)
{
	if (t->nb_backlog == t->cap_backlog) {
		unsigned int cap = t->cap_backlog ? t->cap_backlog * 2 : 64;
		struct rte_mbuf **b = realloc(t->backlog, sizeof(*b) * cap);

		if (!b) {
			LOG_ERR("tls: control backlog allocation failed", "tls=%u", t->id);
			rte_pktmbuf_free(m);
			return;
		}
		t->backlog = b;
		t->cap_backlog = cap;
	}
	t->backlog[t->nb_backlog++] = m;
}

/* Send the staged messages; SENDs that do not fit are dropped and
 * counted, control messages wait in the backlog. Returns how many packets
 * (SEND) went to the forwarding lcore. */
static unsigned int
flush_stage(struct tls_thread *t)
{
	struct rte_ring *r = t->link->to_dp;
	unsigned int sent = 0, packets = 0, n;

	if (t->nb_backlog) {
		n = rte_ring_sp_enqueue_burst(r, (void **)t->backlog,
					      t->nb_backlog, NULL);
		if (n)
			memmove(t->backlog, t->backlog + n,
			sizeof(*t->backlog) * (t->nb_backlog - n));
		t->nb_backlog -= n;
		sent += n;
	}
	if (t->nb_stage) {
		n = t->nb_backlog ? 0
				  : rte_ring_sp_enqueue_burst(r, (void **)t->stage,
							      t->nb_stage, NULL);
		sent += n;
		for (unsigned int i = 0; i < n; i++)
			packets += !is_control(t->stage[i]);
		for (unsigned int i = n; i < t->nb_stage; i++) {
			if (is_control(t->stage[i])) {
				backlog_push(t, t->stage[i]);
			} else {
				TLS_COUNT(&t->cnt, drops[TLS_DROP_RING_FULL], 1);
				rte_pktmbuf_free(t->stage[i]);
			}
		}
		t->nb_stage = 0;
	}
	if (sent)
		dp_wake_kick(t->link->dp_wake);
	return packets;
}

void
tls_thread_stage(struct tls_thread *t, struct rte_mbuf *m)
{
	if (t->nb_stage == TLS_STAGE)
		flush_stage(t);
	/* the ring's last eighth is for one-mbuf packets and control
	 * messages: a flood of large packets cannot crowd them out */
	if (m->nb_segs > 1 && rte_ring_free_count(t->link->to_dp) <
				      rte_ring_get_capacity(t->link->to_dp) / 8 + t->nb_stage) {
		TLS_COUNT(&t->cnt, drops[TLS_DROP_RING_FULL], 1);
		rte_pktmbuf_free(m);
		return;
	}
	t->stage[t->nb_stage++] = m;
}

static bool
send_down(struct tls_thread *t, const uint8_t key[32], uint32_t id, uint32_t gen)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t->link->pool);
	struct dp_msg *d;

	if (!m)
		return false;
	d = dp_msg(m);
	d->type = DP_MSG_SESSION_DOWN;
	d->tls = (uint16_t)t->id;
	d->id = id;
	d->gen = gen;
	memcpy(d->key, key, DP_KEY_LEN);
	tls_thread_stage(t, m);
	return true;
}

void
tls_thread_session_down(struct tls_thread *t, const uint8_t key[32],
			uint32_t id, uint32_t gen)
{
	struct pending_down *d;

	if (t->nb_downs == 0 && send_down(t, key, id, gen))
		return;
	/* pool empty: keep the notice and retry every iteration */
	if (t->nb_downs == t->cap_downs) {
		unsigned int cap = t->cap_downs ? t->cap_downs * 2 : 64;

		d = realloc(t->downs, sizeof(*d) * cap);
		if (!d) {
			LOG_ERR("tls: lost a session_down notice", "tls=%u", t->id);
			return;
		}
		t->downs = d;
		t->cap_downs = cap;
	}
	d = &t->downs[t->nb_downs++];
	memcpy(d->key, key, 32);
	d->id = id;
	d->gen = gen;
}

static void
retry_downs(struct tls_thread *t)
{
	unsigned int i = 0;

	if (t->nb_downs == 0)
		return;
	while (i < t->nb_downs &&
	       send_down(t, t->downs[i].key, t->downs[i].id, t->downs[i].gen))
		i++;
	memmove(t->downs, t->downs + i, sizeof(*t->downs) * (t->nb_downs - i));
	t->nb_downs -= i;
}

/* ------------------------------------------------------------------ */

static int
slot_alloc(struct tls_thread *t, uint32_t *id)
{
	if (t->nb_free) {
		*id = t->free_ids[--t->nb_free];
		return 0;
	}
	if (t->nb_slots == t->cap_slots) {
		uint32_t cap = t->cap_slots ? t->cap_slots * 2 : 1024;
		struct session **s = realloc(t->slots, sizeof(*s) * cap);
		uint32_t *g, *f;

		if (!s)
			return -ENOMEM;
		t->slots = s;
		g = realloc(t->gens, sizeof(*g) * cap);
		if (!g)
			return -ENOMEM;
		t->gens = g;
		f = realloc(t->free_ids, sizeof(*f) * cap);
		if (!f)
			return -ENOMEM;
		t->free_ids = f;
		t->cap_slots = cap;
	}
	*id = t->nb_slots++;
	t->gens[*id] = 0;
	return 0;
}

static void
accept_one(struct tls_thread *t, int fd, const struct sockaddr_storage *ss,
	   bool port80)
{
	const struct derper_config *cfg = t->cfg;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
	struct session *s;
	char text[64];
	uint32_t id;

	/* limits.max_sessions holds for the relay, whatever thread accepts */
	if (atomic_fetch_add(t->all_sessions, 1) >= (uint64_t)cfg->limits.max_sessions &&
	    cfg->limits.max_sessions) {
		atomic_fetch_sub(t->all_sessions, 1);
		TLS_COUNT(&t->cnt, closes[TLS_CLOSE_LIMIT], 1);
		close(fd);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s || slot_alloc(t, &id)) {
		free(s);
		atomic_fetch_sub(t->all_sessions, 1);
		TLS_COUNT(&t->cnt, closes[TLS_CLOSE_NO_MEMORY], 1);
		close(fd);
		return;
	}
	s->id = id;
	s->gen = ++t->gens[id];
	s->fd = fd;
	s->heard = (struct heard_conn)HEARD_CONN_INIT;
	tls_socket_peer(ss, s->ip, &s->port, text, sizeof(text));
	tls_socket_tune(fd, cfg);
	if (port80) {
		s->flags |= SF_PORT80;
		s->state = S_HTTP;
		s->deadline_ms = t->now_ms + (uint64_t)cfg->limits.http_head_timeout_s * 1000;
	} else if (t->ctx) {
		s->ssl = tls_io_new(t->ctx, fd);
		if (!s->ssl) {
			t->free_ids[t->nb_free++] = id;
			free(s);
			atomic_fetch_sub(t->all_sessions, 1);
			TLS_COUNT(&t->cnt, closes[TLS_CLOSE_NO_MEMORY], 1);
			close(fd);
			return;
		}
		s->state = S_TLS;
		s->deadline_ms = t->now_ms + (uint64_t)cfg->limits.handshake_timeout_s * 1000;
	} else {
		s->state = S_HTTP;
		s->deadline_ms = t->now_ms + (uint64_t)cfg->limits.http_head_timeout_s * 1000;
	}
	t->slots[id] = s;
	s->next = t->all;
	if (t->all)
		t->all->prev = s;
	t->all = s;
	t->nb_sessions++;
	session_timer_arm(t, s);
	ev.data.u64 = (uint64_t)s->gen << 32 | id;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		session_close(t, s, TLS_CLOSE_NO_MEMORY);
		return;
	}
	TLS_COUNT(&t->cnt, accepts, 1);
}

/* limits.accept_rate: a token bucket, the rate and burst shared evenly by
 * the threads (each accepts on its own SO_REUSEPORT socket). */
static bool
accept_allowed(struct tls_thread *t)
{
	double rate = t->cfg->limits.accept_rate, burst;
	unsigned int n = t->nb_threads ? t->nb_threads : 1;

	if (rate <= 0)
		return true;
	burst = t->cfg->limits.accept_burst ? (double)t->cfg->limits.accept_burst : rate;
	rate /= n;
	burst = burst / n < 1 ? 1 : burst / n;
	return tb_take(&t->accept, rate, burst, t->now_ms, 1);
}

enum { ACCEPT_BACKOFF_MIN_MS = 10, ACCEPT_BACKOFF_MAX_MS = 1000 };

/* The listeners wait in epoll (level-triggered) or not at all. */
static void
listeners_arm(struct tls_thread *t, bool on)
{
	struct epoll_event ev = {.events = on ? EPOLLIN : 0};

	ev.data.u64 = TAG_LISTEN;
	epoll_ctl(t->epfd, EPOLL_CTL_MOD, t->listen_fd, &ev);
	if (t->http80_fd >= 0) {
		ev.data.u64 = TAG_LISTEN80;
		epoll_ctl(t->epfd, EPOLL_CTL_MOD, t->http80_fd, &ev);
	}
}

/* Out of descriptors (or kernel memory): a connection waits in the
 * backlog that accept cannot take, and a level-triggered listener would
 * report it on every loop. Stop listening for a while instead, doubling
 * the pause while it lasts; sessions that close meanwhile free what the
 * next accept needs. */
static void
accept_pause(struct tls_thread *t, int err)
{
	t->accept_backoff_ms = t->accept_backoff_ms ?
			       t->accept_backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
	if (t->accept_backoff_ms > ACCEPT_BACKOFF_MAX_MS)
		t->accept_backoff_ms = ACCEPT_BACKOFF_MAX_MS;
	t->accept_resume_ms = t->now_ms + t->accept_backoff_ms;
	listeners_arm(t, false);
	TLS_COUNT(&t->cnt, accept_pauses, 1);
	LOG_WARN("tls: accepting paused", "error=\"%s\" pause_ms=%u", strerror(err),
		 t->accept_backoff_ms);
}

/* The pause is over: listen again (the backoff resets on a good accept). */
static void
accept_resume_due(struct tls_thread *t)
{
	if (!t->accept_resume_ms || t->now_ms < t->accept_resume_ms)
		return;
	t->accept_resume_ms = 0;
	if (!t->draining)
		listeners_arm(t, true);
}

static void
accept_all(struct tls_thread *t, int lfd)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_pause(t, errno);
			return;
		}
		if (t->draining) {
			close(fd);
			continue;
		}
		if (!accept_allowed(t)) {
			/* over limits.accept_rate: closed at once, counted */
			TLS_COUNT(&t->cnt, closes[TLS_CLOSE_ACCEPT_RATE], 1);
			close(fd);
			continue;
		}
		t->accept_backoff_ms = 0;
		accept_one(t, fd, &ss, lfd == t->http80_fd);
	}
}

/* Sessions closed this iteration: unlink and free. Only the closed ones
 * are visited, so the cost follows closes, not the sessions held. One
 * still linked in the dirty or read-again list (singly linked, walked
 * once per iteration, where a dead session is passed over and unlinked)
 * waits for the next iteration's reap; `all` frees every one (the
 * thread's end, with those lists abandoned). */
static void
reap(struct tls_thread *t, bool all)
{
	struct session *s = t->dead, *keep = NULL;

	t->dead = NULL;
	while (s) {
		struct session *next = s->next_dead;

		if (!all && (s->flags & (SF_DIRTY | SF_READ_AGAIN))) {
			s->next_dead = keep;
			keep = s;
			s = next;
			continue;
		}
		if (s->prev)
			s->prev->next = s->next;
		else
			t->all = s->next;
		if (s->next)
			s->next->prev = s->prev;
		t->slots[s->id] = NULL;
		t->free_ids[t->nb_free++] = s->id;
		t->nb_sessions--;
		atomic_fetch_sub(t->all_sessions, 1);
		session_free(t, s);
		s = next;
	}
	t->dead = keep;
}

struct gone_ctx {
	struct tls_thread *t;
	const uint8_t *key;
};

static struct heard_conn *
gone_notify(void *ctx, uint32_t id, uint32_t gen)
{
	struct gone_ctx *g = ctx;
	struct session *s = tls_thread_lookup(g->t, id, gen);

	if (!s)
		return NULL;
	session_peer_gone(g->t, s, g->key, DP_GONE_DISCONNECTED, false);
	return &s->heard;
}

static void
handle_msg(struct tls_thread *t, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct session *s;

	switch (d->type) {
	case DP_MSG_DELIVER:
		session_deliver(t, m);
		return;
	case DP_MSG_PEER_GONE:
		s = tls_thread_lookup(t, d->id, d->gen);
		if (s)
			session_peer_gone(t, s, d->key, d->flags,
					  d->flags == DP_GONE_NOT_HERE);
		break;
	case DP_MSG_PEER_GONE_ALL: {
		struct gone_ctx g = {t, d->key};

		heard_take(&t->heard, d->key, gone_notify, &g);
		break;
	}
	case DP_MSG_DUP:
		s = tls_thread_lookup(t, d->id, d->gen);
		if (s)
			session_dup_state(t, s, d->flags);
		break;
	case DP_MSG_CLOSE:
		s = tls_thread_lookup(t, d->id, d->gen);
		if (s) {
			/* the table never took it: no session_down owed */
			if (d->flags == DP_CLOSE_TABLE_FULL)
				s->flags &= ~SF_REGISTERED;
			session_close(t, s, d->flags == DP_CLOSE_TABLE_FULL ?
						    TLS_CLOSE_TABLE_FULL :
					    d->flags == DP_CLOSE_PEER ?
						    TLS_CLOSE_MESH_CLOSE_PEER :
						    TLS_CLOSE_DUPLICATE);
		}
		break;
	case DP_MSG_PEER_PRESENT:
	case DP_MSG_WATCH_GONE:
		s = tls_thread_lookup(t, d->id, d->gen);
		if (s)
			session_watch_event(t, s, d);
		break;
	default:
		break;
	}
	rte_pktmbuf_free(m);
}

enum { AWAIT_NS = 20000 };

/* On the forwarding lcore's own CPU (shared cores: tls_cpus in control)
 * the wait yields instead: the lcore needs this CPU to answer, and a
 * pause loop would hold it until the wait times out. sched_getcpu reads
 * the CPU glibc keeps in the thread's rseq area: no syscall. */
static void
await_ring(struct tls_thread *t)
{
	uint64_t end = rte_get_tsc_cycles() + rte_get_tsc_hz() / (1000000000ULL / AWAIT_NS);
	bool yield = t->link->fwd_cpu >= 0 && sched_getcpu() == t->link->fwd_cpu;

	while (rte_ring_empty(t->link->from_dp) && rte_get_tsc_cycles() < end) {
		if (yield)
			sched_yield();
		else
			rte_pause();
	}
}

static unsigned int
drain_ring(struct tls_thread *t)
{
	struct rte_mbuf *msgs[RING_BURST];
	unsigned int total = 0, n;

	do {
		n = rte_ring_sc_dequeue_burst(t->link->from_dp, (void **)msgs,
					      RING_BURST, NULL);
		for (unsigned int i = 0; i < n; i++)
			handle_msg(t, msgs[i]);
		total += n;
	} while (n == RING_BURST && total < RING_BUDGET);
	return total;
}

/* Admission verdicts. */
static void
drain_verdicts(struct tls_thread *t)
{
	struct admit_msg ms[RING_BURST];
	unsigned int n;

	if (!t->admit)
		return;
	do {
		n = rte_ring_sc_dequeue_burst_elem(t->admit->resp, ms, sizeof(ms[0]),
						   RING_BURST, NULL);
		for (unsigned int i = 0; i < n; i++)
			session_verdict(t, &ms[i]);
	} while (n == RING_BURST);
}

static void
flush_dirty(struct tls_thread *t)
{
	while (t->dirty) {
		struct session *s = t->dirty;

		t->dirty = NULL;
		/* flushing may mark sessions dirty again: next iteration */
		while (s) {
			struct session *next = s->next_dirty;

			session_flush(t, s);
			s = next;
		}
		break;
	}
}

/*
 * Between two sessions' turns, once SERVICE_BYTES have been read since the
 * last time: what was read goes to the forwarding lcore, what came back is
 * delivered, and the sessions it made writable are written. A packet
 * waits behind at most that much of other sessions' input at each of
 * these steps, not behind a whole iteration's (every ready session's read
 * budget), so a flood on some sessions costs the others little latency.
 */
static void
service_if_due(struct tls_thread *t)
{
	if (t->unserviced < SERVICE_BYTES)
		return;
	t->unserviced = 0;
	flush_stage(t);
	drain_ring(t);
	flush_dirty(t);
}

static void
read_again(struct tls_thread *t)
{
	struct session *s = t->read_again;

	t->read_again = NULL;
	while (s) {
		struct session *next = s->next_read;

		s->flags &= ~SF_READ_AGAIN;
		if (s->state != S_DEAD)
			session_on_io(t, s, true, false);
		service_if_due(t);
		s = next;
	}
}

/* Throttled sessions whose bucket has refilled read again. */
static void
unthrottle_due(struct tls_thread *t)
{
	struct session *s = t->throttled;

	while (s) {
		struct session *next = s->next_thr;

		if (s->throttle_until_ms <= t->now_ms) {
			session_unthrottle(t, s);
			if (s->state != S_DEAD && !(s->flags & SF_READ_AGAIN)) {
				s->flags |= SF_READ_AGAIN;
				s->next_read = t->read_again;
				t->read_again = s;
			}
		}
		s = next;
	}
}

static void
on_timer(struct tw_node *n, void *arg)
{
	struct tls_thread *t = arg;
	struct session *s = (struct session *)((char *)n - offsetof(struct session, timer));

	session_timers(t, s);
	if (s->state != S_DEAD)
		session_timer_arm(t, s);
}

/* Every SWEEP_MS: the sessions whose deadline, write timeout or KeepAlive
 * has come (the wheel), not every session held. */
static void
sweep(struct tls_thread *t)
{
	tw_advance(&t->wheel, t->now_ms, on_timer, t);
	t->next_sweep_ms = t->now_ms + SWEEP_MS;
}

static void
start_drain(struct tls_thread *t)
{
	t->draining = true;
	t->drain_deadline_ms = t->now_ms +
			       (uint64_t)t->cfg->shutdown.drain_timeout_s * 1000;
	if (t->listen_fd >= 0) {
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->listen_fd, NULL);
		close(t->listen_fd);
		t->listen_fd = -1;
	}
	if (t->http80_fd >= 0) {
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->http80_fd, NULL);
		close(t->http80_fd);
		t->http80_fd = -1;
	}
	for (struct session *s = t->all; s; s = s->next)
		session_start_drain(t, s);
}

static int
wait_timeout(struct tls_thread *t)
{
	int64_t ms;

	if (t->read_again || t->dirty || t->nb_backlog || t->nb_downs ||
	    !rte_ring_empty(t->link->from_dp))
		return 0;
	ms = (int64_t)t->next_sweep_ms - (int64_t)t->now_ms;
	if (t->accept_resume_ms && (int64_t)t->accept_resume_ms - (int64_t)t->now_ms < ms)
		ms = (int64_t)t->accept_resume_ms - (int64_t)t->now_ms;
	for (struct session *s = t->throttled; s; s = s->next_thr)
		if ((int64_t)s->throttle_until_ms - (int64_t)t->now_ms < ms)
			ms = (int64_t)s->throttle_until_ms - (int64_t)t->now_ms;
	return ms < 0 ? 0 : (int)ms;
}

static void
handle_events(struct tls_thread *t, struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		struct session *s;

		if (tag == TAG_LISTEN || tag == TAG_LISTEN80) {
			accept_all(t, tag == TAG_LISTEN ? t->listen_fd : t->http80_fd);
			continue;
		}
		if (tag == TAG_WAKE || tag == TAG_FWD) {
			uint64_t v;

			(void)!read(tag == TAG_WAKE ? t->link->wake->efd
						    : dp_inline_wake(t->fwd)->efd,
				    &v, sizeof(v));
			continue;
		}
		s = tls_thread_lookup(t, (uint32_t)tag, (uint32_t)(tag >> 32));
		if (!s)
			continue;
		if (ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			s->flags |= SF_HUP;
		session_on_io(t, s,
			      ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR),
			      ev[i].events & (EPOLLOUT | EPOLLERR));
		/* a handshake waiting on EPOLLOUT is driven here too */
		if (s->state == S_TLS && (ev[i].events & EPOLLOUT))
			session_on_io(t, s, false, false);
		service_if_due(t);
	}
}

/* A replaced TLS context (certificate renewal, reload): new handshakes
 * use it from here; the old one is no longer touched by this thread. */
static void
adopt_ctx(struct tls_thread *t)
{
	uint64_t g;

	if (!t->ctx_pub)
		return;
	g = atomic_load_explicit(&t->ctx_pub->gen, memory_order_acquire);
	if (g == t->ctx_gen)
		return;
	t->ctx = atomic_load_explicit(&t->ctx_pub->ctx, memory_order_acquire);
	t->cfg = atomic_load_explicit(&t->ctx_pub->cfg, memory_order_acquire);
	t->ctx_gen = g;
	atomic_store_explicit(&t->ctx_seen, g, memory_order_release);
}

static void *
thread_main(void *arg)
{
	struct tls_thread *t = arg;
	struct epoll_event ev[EVENTS];
	uint64_t fwd_work = rte_get_tsc_cycles();	/* inline: last work */
	bool spin = false;				/* inline: poll, don't sleep */
	char name[16];

	snprintf(name, sizeof(name), "derper-tls%u", t->id);
	pthread_setname_np(pthread_self(), name);
	/* an lcore id gives this thread its own mempool cache */
	if (rte_thread_register())
		LOG_WARN("tls: rte_thread_register failed; mempool without cache",
			 "tls=%u", t->id);
	/* woken by its sockets and the lcore: preempt what holds the CPU */
	if (sched_slice_set(SCHED_SLICE_NS))
		LOG_WARN("tls: short scheduler slice refused", "tls=%u", t->id);
	t->now_ms = clock_mono_ms();
	t->next_sweep_ms = t->now_ms + SWEEP_MS;
	while (!atomic_load(&t->quit)) {
		uint64_t slept = 0;
		bool worked = false;
		int n, timeout;

		adopt_ctx(t);
		if (atomic_load(&t->drain) && !t->draining)
			start_drain(t);
		if (t->draining && t->nb_sessions == 0 && t->nb_stage == 0 &&
		    t->nb_backlog == 0 && t->nb_downs == 0)
			break;
		timeout = spin ? 0 : wait_timeout(t);
		if (timeout) {
			dp_wake_prepare(t->link->wake);
			if (t->fwd)
				dp_wake_prepare(dp_inline_wake(t->fwd));
		}
		if (timeout && (!rte_ring_empty(t->link->from_dp) ||
				(t->admit && !rte_ring_empty(t->admit->resp)) ||
				(t->fwd && dp_inline_busy(t->fwd))))
			timeout = 0;
		if (t->fwd && timeout)
			slept = rte_get_tsc_cycles();
		n = epoll_wait(t->epfd, ev, EVENTS, timeout);
		dp_wake_done(t->link->wake, 0);
		if (t->fwd && timeout) {
			dp_wake_done(dp_inline_wake(t->fwd), 0);
			dp_inline_slept(t->fwd, slept, rte_get_tsc_cycles());
		}
		t->now_ms = clock_mono_ms();
		if (n > 0)
			handle_events(t, ev, n);
		if (t->throttled)
			unthrottle_due(t);
		accept_resume_due(t);
		read_again(t);
		retry_downs(t);
		/* What was read goes to the forwarder. Inline (dataplane/
		 * dataplane.h) this thread runs it now. Else the packets went
		 * to the forwarding lcore: their deliveries come back within
		 * microseconds, often to this very thread; wait for them
		 * briefly instead of a sleep and a wake-up per hop. */
		if (t->fwd) {
			flush_stage(t);
			worked = dp_inline_run(t->fwd) > 0;
		} else if (flush_stage(t)) {
			await_ring(t);
		}
		drain_ring(t);
		drain_verdicts(t);
		flush_dirty(t);
		if (t->now_ms >= t->next_sweep_ms)
			sweep(t);
		/* session_close may have staged session_down notices */
		flush_stage(t);
		reap(t, false);
		/* inline: the lcore's idle policy (dataplane/main_loop.c):
		 * poll again at once while work came within spin_us, unless
		 * the core is wanted or a crowd is served; else sleep */
		if (t->fwd) {
			if (worked || n > 0)
				fwd_work = rte_get_tsc_cycles();
			spin = dp_inline_spin(t->fwd, fwd_work);
		}
	}
	/* stop: whatever is left closes now */
	for (struct session *s = t->all; s; s = s->next)
		session_close(t, s, TLS_CLOSE_SHUTDOWN);
	t->dirty = t->read_again = NULL;
	reap(t, true);
	retry_downs(t);
	flush_stage(t);
	atomic_store(&t->ctx_seen, UINT64_MAX);	/* never waits a swap */
	rte_thread_unregister();
	return NULL;
}

int
tls_thread_init(struct tls_thread *t, unsigned int id,
		const struct derper_config *cfg, struct tls_ctx *ctx,
		const uint8_t *priv, const uint8_t *pub, int listen_fd,
		struct dp_tls_link *link, struct admit_link *admit)
{
	struct epoll_event ev = {.events = EPOLLIN};

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->cfg = cfg;
	t->ctx = ctx;
	t->server_priv = priv;
	t->server_pub = pub;
	t->listen_fd = listen_fd;
	t->http80_fd = -1;
	t->link = link;
	t->admit = admit;
	heard_init(&t->heard);
	{
		static const uint32_t us[] = TLS_FWD_BOUNDS_US;
		uint64_t per_us = rte_get_tsc_hz() / 1000000;

		for (unsigned int b = 0; b < TLS_FWD_BUCKETS - 1; b++)
			t->fwd_bounds_tsc[b] = us[b] * per_us;
	}
	tw_init(&t->wheel, SWEEP_MS, clock_mono_ms());
	t->rbuf = malloc(RBUF_SIZE);
	t->wbuf = malloc(WBUF_SIZE);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!t->rbuf || !t->wbuf || t->epfd < 0)
		return -ENOMEM;
	if (ctx && tls13_engine_init(&t->rec_eng))
		return -ENOMEM;
	ev.data.u64 = TAG_LISTEN;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, listen_fd, &ev))
		return -errno;
	ev.data.u64 = TAG_WAKE;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, link->wake->efd, &ev))
		return -errno;
	return 0;
}

int
tls_thread_add_http80(struct tls_thread *t, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN80};

	t->http80_fd = fd;
	return epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int
tls_thread_start(struct tls_thread *t, const cpu_set_t *cpus)
{
	pthread_attr_t attr;
	int rc;

	/* inline forwarding: dp_start has decided by now */
	t->fwd = t->link->inline_fwd;
	if (t->fwd) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_FWD};

		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, dp_inline_wake(t->fwd)->efd, &ev))
			return -errno;
	}
	pthread_attr_init(&attr);
	if (cpus)
		pthread_attr_setaffinity_np(&attr, sizeof(*cpus), cpus);
	rc = pthread_create(&t->thread, &attr, thread_main, t);
	pthread_attr_destroy(&attr);
	return -rc;
}

void
tls_thread_kick(struct tls_thread *t)
{
	uint64_t one = 1;

	(void)!write(t->link->wake->efd, &one, sizeof(one));
}

void
tls_thread_request_drain(struct tls_thread *t)
{
	atomic_store(&t->drain, 1);
	dp_wake_kick(t->link->wake);
	/* it may be in epoll_wait without having published "sleeping" */
	{
		uint64_t one = 1;

		(void)!write(t->link->wake->efd, &one, sizeof(one));
	}
}

void
tls_thread_stop(struct tls_thread *t)
{
	uint64_t one = 1;

	atomic_store(&t->quit, 1);
	(void)!write(t->link->wake->efd, &one, sizeof(one));
	pthread_join(t->thread, NULL);
}

void
tls_thread_uninit(struct tls_thread *t)
{
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	if (t->http80_fd >= 0)
		close(t->http80_fd);
	if (t->epfd >= 0)
		close(t->epfd);
	for (unsigned int i = 0; i < t->nb_backlog; i++)
		rte_pktmbuf_free(t->backlog[i]);
	free(t->backlog);
	free(t->downs);
	free(t->slots);
	free(t->gens);
	free(t->free_ids);
	free(t->rbuf);
	free(t->wbuf);
	tls13_engine_uninit(&t->rec_eng);
	heard_uninit(&t->heard);
}

void
tls_thread_counters(const struct tls_thread *t, struct tls_counters *out)
{
	const uint64_t *src = (const uint64_t *)&t->cnt;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
