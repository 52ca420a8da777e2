/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outbound mesh links (see mesh.h). One thread per sibling, each with its
 * own SP/SC ring pair with the forwarding lcore:
 *
 *   link -> lcore: FWD_ADD / FWD_DEL (the sibling's PeerPresent and
 *                  PeerGone), LINK_DOWN (forget everything it taught);
 *   lcore -> link: FORWARD (a packet for a key only the sibling has).
 *
 * The connection (TCP, TLS, upgrade, NaCl handshake) is made with the
 * blocking derp_client, cancellable at shutdown; once up, the socket is
 * driven non-blocking from one poll loop that reads the sibling's frames,
 * drains the ring into a write buffer of ForwardPacket frames and writes
 * it. Table updates are never dropped: when the ring is full they wait,
 * and the link stops reading until they are through. Forwarded packets
 * are dropped (counted) when the write buffer is full; a write that makes
 * no progress for 5 s ends the link, as derper's.
 *
 * A dropped link is redialled after a jittered, exponentially growing
 * delay (a Restarting frame from the sibling sets the first delay). A
 * sibling whose server key is our own is this server: it is not dialled
 * again.
 */
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "config/addr.h"
#include "control/prom.h"
#include "control/derp_client.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "control/mesh.h"
#include "dataplane/dataplane.h"
#include "dataplane/ring_msg.h"
#include "tls/derp_wire.h"
#include "tls/frame.h"
#include "tls/handshake.h"
#include "tls/keyfile.h"
#include "tls/tls.h"

enum {
	CONNECT_TIMEOUT_MS = 5000,
	WRITE_TIMEOUT_MS = 5000,	/* derper's mesh forwarding deadline */
	READ_TIMEOUT_MS = 125000,	/* siblings send KeepAlive every 60-65 s */
	BACKOFF_MIN_MS = 500,
	BACKOFF_MAX_MS = 10000,
	STABLE_MS = 30000,		/* up this long: the next backoff restarts */
	OUT_MAX = 4 << 20,		/* ForwardPacket bytes waiting to be written */
	PENDING_MAX = 8192,		/* table updates waiting: stop reading */
	RBUF = 64 << 10,
	READ_BUDGET = 256 << 10,
	RING_BURST = 64,
	SMALL_FRAME_MAX = 1024,
};

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_UP, LINK_SELF };

static const char *const state_names[] = {"down", "connecting", "up", "self"};

struct pending {
	uint8_t type;
	uint8_t key[DERP_KEY_LEN];
};

struct mesh_link {
	unsigned int id;
	char entry[CFG_ITEM_LEN];
	struct cfg_mesh_peer peer;
	char port[8];
	char user_agent[64];
	const char *ca_file;
	struct dp_tls_link *ring;
	pthread_t thread;
	bool started;
	_Atomic int quit;
	int quit_efd;

	/* link thread only */
	struct derp_client *c;
	SSL *ssl;
	int fd;
	struct derp_rx rx;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	uint64_t stall_ms;		/* write blocked since; 0 = flowing */
	uint64_t last_rx_ms;
	uint64_t restart_hint_ms;	/* from a Restarting frame */
	struct pending *pend;
	unsigned int nb_pend, cap_pend;
	uint8_t *rbuf;
	const char *why;		/* why the link ended */

	/* read by the telemetry thread (relaxed) */
	_Atomic int state;
	uint64_t connects;
	uint64_t failures;
	uint64_t disconnects;
	uint64_t present;		/* PeerPresent received */
	uint64_t gone;			/* PeerGone received */
	uint64_t forwarded;		/* ForwardPacket frames written out */
	uint64_t forward_drops;		/* buffer full or link down */
};

#define MESH_COUNT(l, field, n)                                           \
	__atomic_store_n(&(l)->field, (l)->field + (n), __ATOMIC_RELAXED)

static struct {
	unsigned int nb;
	struct mesh_link *links;
	const uint8_t *priv, *pub, *mesh_key;
} mesh;

unsigned int
ctl_mesh_count(const struct derper_config *cfg)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < cfg->mesh.peers.n; i++) {
		struct cfg_mesh_peer p;
		char err[128];

		if (cfg_mesh_peer_parse(cfg->mesh.peers.v[i], &p, err, sizeof(err)) == 0 &&
		    !cfg_mesh_peer_is_own_name(cfg->mesh.peers.v[i], cfg->hostname))
			n++;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* To the forwarding lcore                                              */

static int
pend(struct mesh_link *l, uint8_t type, const uint8_t *key)
{
	if (l->nb_pend == l->cap_pend) {
		unsigned int cap = l->cap_pend ? l->cap_pend * 2 : 64;
		struct pending *p = realloc(l->pend, sizeof(*p) * cap);

		if (!p)
			return -ENOMEM;
		l->pend = p;
		l->cap_pend = cap;
	}
	l->pend[l->nb_pend].type = type;
	if (key)
		memcpy(l->pend[l->nb_pend].key, key, DERP_KEY_LEN);
	l->nb_pend++;
	return 0;
}

/* Move what is pending onto the ring, as far as it and the pool allow.
 * Returns how many went. */
static unsigned int
push_pending(struct mesh_link *l)
{
	struct rte_mbuf *ms[RING_BURST];
	unsigned int done = 0;

	while (done < l->nb_pend) {
		unsigned int n = 0, sent;

		while (n < RING_BURST && done + n < l->nb_pend) {
			const struct pending *p = &l->pend[done + n];
			struct rte_mbuf *m = rte_pktmbuf_alloc(l->ring->pool);
			struct dp_msg *d;

			if (!m)
				break;
			d = dp_msg(m);
			memset(d, 0, sizeof(*d));
			d->type = p->type;
			d->port = (uint16_t)l->id;
			memcpy(d->key, p->key, DERP_KEY_LEN);
			ms[n++] = m;
		}
		sent = n ? rte_ring_sp_enqueue_burst(l->ring->to_dp, (void **)ms, n, NULL)
			 : 0;
		for (unsigned int i = sent; i < n; i++)
			rte_pktmbuf_free(ms[i]);
		done += sent;
		if (sent < RING_BURST)
			break;
	}
	if (done) {
		memmove(l->pend, l->pend + done, sizeof(*l->pend) * (l->nb_pend - done));
		l->nb_pend -= done;
		dp_wake_kick(l->ring->dp_wake);
	}
	if (l->nb_pend == 0 && l->cap_pend > 1024) {
		free(l->pend);
		l->pend = NULL;
		l->cap_pend = 0;
	}
	return done;
}

/* ------------------------------------------------------------------ */
/* Output                                                               */

static int
out_reserve(struct mesh_link *l, size_t need)
{
	if (l->out_off && l->out_off == l->out_len)
		l->out_off = l->out_len = 0;
	if (l->out_len + need <= l->out_cap)
		return 0;
	if (l->out_off) {
		/* the unwritten bytes keep their content: TLS may retry them */
		memmove(l->out, l->out + l->out_off, l->out_len - l->out_off);
		l->out_len -= l->out_off;
		l->out_off = 0;
		if (l->out_len + need <= l->out_cap)
			return 0;
	}
	{
		uint8_t *n = buf_grow(l->out, &l->out_cap, l->out_len + need, 16384, 0);

		if (!n)
			return -ENOMEM;
		l->out = n;
	}
	return 0;
}

static int
out_frame(struct mesh_link *l, uint8_t type, const void *p, size_t n)
{
	if (out_reserve(l, DERP_FRAME_HEADER_LEN + n))
		return -ENOMEM;
	l->out_len += derp_put_header(l->out + l->out_len, type, (uint32_t)n);
	if (n)
		memcpy(l->out + l->out_len, p, n);
	l->out_len += n;
	return 0;
}

/* A packet the lcore routed here, as ForwardPacket(src, dst, packet). */
static void
out_forward(struct mesh_link *l, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	uint32_t len = rte_pktmbuf_pkt_len(m);
	size_t need = DERP_FRAME_HEADER_LEN + 2 * DERP_KEY_LEN + len;

	if (l->out_len - l->out_off + need > OUT_MAX || out_reserve(l, need)) {
		MESH_COUNT(l, forward_drops, 1);
		return;
	}
	l->out_len += derp_put_header(l->out + l->out_len, DERP_FRAME_FORWARD_PACKET,
				      (uint32_t)(2 * DERP_KEY_LEN + len));
	memcpy(l->out + l->out_len, d->src, DERP_KEY_LEN);
	memcpy(l->out + l->out_len + DERP_KEY_LEN, d->key, DERP_KEY_LEN);
	l->out_len += 2 * DERP_KEY_LEN;
	for (struct rte_mbuf *seg = m; seg; seg = seg->next) {
		memcpy(l->out + l->out_len, rte_pktmbuf_mtod(seg, void *), seg->data_len);
		l->out_len += seg->data_len;
	}
	MESH_COUNT(l, forwarded, 1);
}

/* Drain the lcore's messages; with no connection, forwards are dropped. */
static unsigned int
drain_ring(struct mesh_link *l, bool up)
{
	struct rte_mbuf *ms[RING_BURST];
	unsigned int n, total = 0;

	do {
		n = rte_ring_sc_dequeue_burst(l->ring->from_dp, (void **)ms,
					      RING_BURST, NULL);
		for (unsigned int i = 0; i < n; i++) {
			if (dp_msg(ms[i])->type == DP_MSG_FORWARD) {
				if (up)
					out_forward(l, ms[i]);
				else
					MESH_COUNT(l, forward_drops, 1);
			}
			rte_pktmbuf_free(ms[i]);
		}
		total += n;
	} while (n == RING_BURST && total < 4 * RING_BURST);
	return total;
}

/* Write what is buffered. 0, or -1 when the link failed. */
static int
write_out(struct mesh_link *l, uint64_t now)
{
	while (l->out_off < l->out_len) {
		size_t w = 0;
		int r = SSL_write_ex(l->ssl, l->out + l->out_off,
				     l->out_len - l->out_off, &w);

		if (r == 1) {
			l->out_off += w;
			l->stall_ms = 0;
			continue;
		}
		r = SSL_get_error(l->ssl, r);
		if (r == SSL_ERROR_WANT_WRITE || r == SSL_ERROR_WANT_READ) {
			if (!l->stall_ms)
				l->stall_ms = now;
			if (now - l->stall_ms >= WRITE_TIMEOUT_MS) {
				l->why = "write timeout";
				return -1;
			}
			return 0;
		}
		ERR_clear_error();
		l->why = "write error";
		return -1;
	}
	l->out_off = l->out_len = 0;
	l->stall_ms = 0;
	if (l->out_cap > (1 << 20)) {
		free(l->out);
		l->out = NULL;
		l->out_cap = 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Input: the sibling's frames                                          */

static int
on_header(void *ctx, uint8_t type, uint32_t len, uint32_t *prefix)
{
	(void)ctx;
	(void)prefix;
	switch (type) {
	case DERP_FRAME_PEER_PRESENT:
	case DERP_FRAME_PEER_GONE:
		/* shorter than a key: derper's client drops it too */
		return len >= DERP_KEY_LEN && len <= SMALL_FRAME_MAX ? DERP_RX_WHOLE
								     : DERP_RX_SKIP;
	case DERP_FRAME_PING:
		return len >= DERP_PING_LEN && len <= DERP_PING_MAX ? DERP_RX_WHOLE
								    : DERP_RX_SKIP;
	case DERP_FRAME_HEALTH:
	case DERP_FRAME_RESTARTING:
		return len <= SMALL_FRAME_MAX ? DERP_RX_WHOLE : DERP_RX_SKIP;
	default:
		return DERP_RX_SKIP;	/* KeepAlive, RecvPacket, ... */
	}
}

static int
on_frame(void *ctx, uint8_t type, const uint8_t *body, uint32_t len)
{
	struct mesh_link *l = ctx;

	switch (type) {
	case DERP_FRAME_PEER_PRESENT:
		MESH_COUNT(l, present, 1);
		/* our own link's connection there: not a route */
		if (memcmp(body, mesh.pub, DERP_KEY_LEN) == 0)
			return 0;
		return pend(l, DP_MSG_FWD_ADD, body);
	case DERP_FRAME_PEER_GONE:
		/* any reason, NotHere included: that route is stale (§7.4) */
		MESH_COUNT(l, gone, 1);
		return pend(l, DP_MSG_FWD_DEL, body);
	case DERP_FRAME_PING:
		return out_frame(l, DERP_FRAME_PONG, body, DERP_PING_LEN);
	case DERP_FRAME_HEALTH:
		if (len)
			LOG_WARN("mesh: peer reports a problem", "peer=\"%s\" problem=\"%.*s\"",
				 l->entry, (int)(len > 200 ? 200 : len), (const char *)body);
		return 0;
	case DERP_FRAME_RESTARTING:
		if (len >= 8) {
			uint32_t in = (uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 |
				      (uint32_t)body[2] << 8 | body[3];

			l->restart_hint_ms = in < 60000 ? in : 60000;
			LOG_INFO("mesh: peer is restarting", "peer=\"%s\" reconnect_in_ms=%u",
				 l->entry, in);
		}
		return 0;
	default:
		return 0;
	}
}

static const struct derp_rx_ops rx_ops = {
	.on_header = on_header,
	.on_frame = on_frame,
};

static int
feed(struct mesh_link *l, const uint8_t *buf, size_t n)
{
	int rc = derp_rx_feed(&l->rx, buf, n, &rx_ops, l, NULL, false);

	if (rc) {
		l->why = rc == -ENOMEM ? "out of memory" : "bad frame";
		return -1;
	}
	return 0;
}

/* Read what the socket has, up to a budget. 1 when more may be waiting,
 * 0 when drained, -1 when the link failed. */
static int
read_in(struct mesh_link *l, uint64_t now)
{
	size_t budget = READ_BUDGET;

	while (budget) {
		size_t got = 0;
		int r = SSL_read_ex(l->ssl, l->rbuf, RBUF, &got);

		if (r == 1) {
			l->last_rx_ms = now;
			if (feed(l, l->rbuf, got))
				return -1;
			budget = got < budget ? budget - got : 0;
			if (l->nb_pend > PENDING_MAX)
				return 1;
			continue;
		}
		r = SSL_get_error(l->ssl, r);
		if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE)
			return 0;
		ERR_clear_error();
		l->why = r == SSL_ERROR_ZERO_RETURN ? "peer closed" : "read error";
		return -1;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* The link's life                                                      */

/* Wait up to ms for quit; the ring is drained meanwhile (the link is
 * down, its forwards are dropped). True when quitting. */
static bool
idle_wait(struct mesh_link *l, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (!atomic_load(&l->quit)) {
		struct pollfd p[2] = {{.fd = l->quit_efd, .events = POLLIN},
				      {.fd = l->ring->wake->efd, .events = POLLIN}};
		uint64_t now = clock_mono_ms();
		int kicked;

		if (now >= end)
			return false;
		dp_wake_prepare(l->ring->wake);
		if (!rte_ring_empty(l->ring->from_dp)) {
			dp_wake_done(l->ring->wake, 0);
			drain_ring(l, false);
			continue;
		}
		kicked = poll(p, 2, end - now > 1000 ? 1000 : (int)(end - now)) > 0 &&
			 (p[1].revents & POLLIN);
		dp_wake_done(l->ring->wake, kicked);
		drain_ring(l, false);
	}
	return true;
}

static void
tune_socket(int fd)
{
	int one = 1, idle = 30, intvl = 10, cnt = 3;
	unsigned int user_timeout = 15000;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
		   sizeof(user_timeout));
}

static int
link_connect(struct mesh_link *l, char *err, size_t errlen)
{
	struct derp_client_opts o = {
		.host = l->peer.dial,
		.port = l->port,
		.sni = l->peer.host,
		.http_host = l->peer.http_host,
		.tls = true,
		.ca_file = l->ca_file,
		.fast_start = true,
		.timeout_ms = CONNECT_TIMEOUT_MS,
		.user_agent = l->user_agent,
		.priv = mesh.priv,
		.mesh_key = mesh.mesh_key,
		.cancel_fd = &l->quit_efd,
	};

	l->c = derp_client_connect(&o, err, errlen);
	if (!l->c)
		return -1;
	l->fd = derp_client_fd(l->c);
	l->ssl = derp_client_ssl(l->c);
	SSL_set_mode(l->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			     SSL_MODE_ENABLE_PARTIAL_WRITE);
	tune_socket(l->fd);
	return 0;
}

static void
link_close(struct mesh_link *l)
{
	derp_client_close(l->c);
	l->c = NULL;
	l->ssl = NULL;
	l->fd = -1;
	derp_rx_free(&l->rx);
	memset(&l->rx, 0, sizeof(l->rx));
	l->out_len = l->out_off = 0;
	l->stall_ms = 0;
}

/* Drive an established link until it fails or we quit. */
static void
link_run(struct mesh_link *l)
{
	uint8_t early[4096];
	size_t n;

	l->last_rx_ms = clock_mono_ms();
	/* what came with the handshake: the dump may start there */
	while ((n = derp_client_take_buffered(l->c, early, sizeof(early))))
		if (feed(l, early, n))
			return;
	if (out_frame(l, DERP_FRAME_WATCH_CONNS, NULL, 0)) {
		l->why = "out of memory";
		return;
	}
	while (!atomic_load(&l->quit)) {
		uint64_t now = clock_mono_ms();
		struct pollfd p[3] = {
			{.fd = l->fd, .events = 0},
			{.fd = l->ring->wake->efd, .events = POLLIN},
			{.fd = l->quit_efd, .events = POLLIN},
		};
		bool busy = false;
		int rc, kicked;

		busy |= drain_ring(l, true) > 0;
		if (write_out(l, now))
			return;
		if (l->nb_pend)
			push_pending(l);
		if (l->nb_pend <= PENDING_MAX) {
			rc = read_in(l, now);
			if (rc < 0)
				return;
			busy |= rc > 0;
		}
		if (l->nb_pend)
			busy |= push_pending(l) > 0;
		if (l->out_off < l->out_len) {
			if (write_out(l, now))
				return;
		}
		if (now - l->last_rx_ms > READ_TIMEOUT_MS) {
			l->why = "nothing received for 125 s";
			return;
		}
		if (busy)
			continue;
		/* sleep until the socket, the lcore or control wakes us */
		if (l->nb_pend <= PENDING_MAX)
			p[0].events |= POLLIN;
		if (l->out_off < l->out_len)
			p[0].events |= POLLOUT;
		dp_wake_prepare(l->ring->wake);
		if (!rte_ring_empty(l->ring->from_dp) || SSL_pending(l->ssl)) {
			dp_wake_done(l->ring->wake, 0);
			continue;
		}
		kicked = poll(p, 3, l->nb_pend ? 1 : 1000) > 0 && (p[1].revents & POLLIN);
		dp_wake_done(l->ring->wake, kicked);
	}
	l->why = "shutdown";
}

/* LINK_DOWN must reach the lcore: wait for room if need be. */
static void
announce_down(struct mesh_link *l)
{
	l->nb_pend = 0;	/* updates not sent yet are moot now */
	pend(l, DP_MSG_LINK_DOWN, NULL);
	while (l->nb_pend && push_pending(l) == 0) {
		struct timespec ts = {0, 1000000};

		nanosleep(&ts, NULL);
	}
}

static uint64_t
jitter(uint64_t ms)
{
	uint32_t r;

	tls_random(&r, sizeof(r));
	return ms / 2 + r % (ms / 2 + 1);
}

static void *
link_main(void *arg)
{
	struct mesh_link *l = arg;
	uint64_t backoff = BACKOFF_MIN_MS;
	unsigned int failures = 0;
	char name[16];

	snprintf(name, sizeof(name), "derper-mesh%u", l->id);
	pthread_setname_np(pthread_self(), name);
	if (rte_thread_register())
		LOG_WARN("mesh: rte_thread_register failed; mempool without cache",
			 "link=%u", l->id);
	while (!atomic_load(&l->quit)) {
		char err[256], key[65];
		uint64_t up_at, wait;

		atomic_store(&l->state, LINK_CONNECTING);
		if (link_connect(l, err, sizeof(err))) {
			if (atomic_load(&l->quit))
				break;
			failures++;
			MESH_COUNT(l, failures, 1);
			atomic_store(&l->state, LINK_DOWN);
			wait = jitter(backoff);
			LOG_WARN("mesh: cannot connect", "peer=\"%s\" error=\"%s\" attempt=%u retry_in_ms=%llu",
				 l->entry, err, failures, (unsigned long long)wait);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			if (idle_wait(l, wait))
				break;
			continue;
		}
		tls_key_hex(derp_client_server_pub(l->c), key);
		if (memcmp(derp_client_server_pub(l->c), mesh.pub, DERP_KEY_LEN) == 0) {
			LOG_INFO("mesh: peer is this server; not dialling it again",
				 "peer=\"%s\"", l->entry);
			link_close(l);
			atomic_store(&l->state, LINK_SELF);
			idle_wait(l, UINT64_MAX / 2);
			break;
		}
		MESH_COUNT(l, connects, 1);
		atomic_store(&l->state, LINK_UP);
		LOG_INFO("mesh: link up", "peer=\"%s\" dial=%s:%s server_key=nodekey:%s tls=%s fast_start=%s",
			 l->entry, l->peer.dial, l->port, key,
			 derp_client_tls_version(l->c),
			 derp_client_fast_start(l->c) ? "yes" : "no");
		failures = 0;
		l->restart_hint_ms = 0;
		up_at = clock_mono_ms();
		l->why = "unknown";
		link_run(l);
		link_close(l);
		announce_down(l);
		atomic_store(&l->state, LINK_DOWN);
		if (atomic_load(&l->quit))
			break;
		MESH_COUNT(l, disconnects, 1);
		if (clock_mono_ms() - up_at >= STABLE_MS)
			backoff = BACKOFF_MIN_MS;
		wait = l->restart_hint_ms ? l->restart_hint_ms + jitter(BACKOFF_MIN_MS)
					  : jitter(backoff);
		LOG_WARN("mesh: link down", "peer=\"%s\" reason=\"%s\" up_ms=%llu retry_in_ms=%llu",
			 l->entry, l->why, (unsigned long long)(clock_mono_ms() - up_at),
			 (unsigned long long)wait);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		if (idle_wait(l, wait))
			break;
	}
	atomic_store(&l->state, LINK_DOWN);
	rte_thread_unregister();
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Telemetry: /derper/mesh                                              */

static int
tel_mesh(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < mesh.nb; i++) {
		struct mesh_link *l = &mesh.links[i];
		struct rte_tel_data *c = rte_tel_data_alloc();
		char name[16];

		if (!c)
			return -ENOMEM;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_string(c, "peer", l->entry);
		rte_tel_data_add_dict_string(c, "state", state_names[atomic_load(&l->state)]);
		rte_tel_data_add_dict_u64(c, "connects", __atomic_load_n(&l->connects, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "failures", __atomic_load_n(&l->failures, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "disconnects", __atomic_load_n(&l->disconnects, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "peer_present", __atomic_load_n(&l->present, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "peer_gone", __atomic_load_n(&l->gone, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "forwarded", __atomic_load_n(&l->forwarded, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "forward_drops", __atomic_load_n(&l->forward_drops, __ATOMIC_RELAXED));
		snprintf(name, sizeof(name), "link%u", i);
		rte_tel_data_add_dict_container(d, name, c, 0);
	}
	return 0;
}

/* ------------------------------------------------------------------ */

int
ctl_mesh_start(const struct derper_config *cfg)
{
	unsigned int n = ctl_mesh_count(cfg), id = 0;

	memset(&mesh, 0, sizeof(mesh));
	rte_telemetry_register_cmd("/derper/mesh", tel_mesh,
				   "Regional mesh links: state and counters");
	if (n == 0)
		return 0;
	if (!tls_server_identity(&mesh.priv, &mesh.pub, &mesh.mesh_key) ||
	    !mesh.mesh_key) {
		LOG_ERR("mesh: no mesh key", "%s", "reason=\"mesh.peers needs mesh.psk_file\"");
		return -EINVAL;
	}
	mesh.links = calloc(n, sizeof(*mesh.links));
	if (!mesh.links)
		return -ENOMEM;
	for (unsigned int i = 0; i < cfg->mesh.peers.n; i++) {
		struct mesh_link *l = &mesh.links[id];
		char err[128];

		if (cfg_mesh_peer_parse(cfg->mesh.peers.v[i], &l->peer, err, sizeof(err)) ||
		    cfg_mesh_peer_is_own_name(cfg->mesh.peers.v[i], cfg->hostname)) {
			LOG_INFO("mesh: skipping our own name", "peer=\"%s\"",
				 cfg->mesh.peers.v[i]);
			continue;
		}
		l->id = id;
		snprintf(l->entry, sizeof(l->entry), "%s", cfg->mesh.peers.v[i]);
		snprintf(l->port, sizeof(l->port), "%u", l->peer.port);
		snprintf(l->user_agent, sizeof(l->user_agent), "derper-dpdk-mesh/%s",
			 DERPER_VERSION);
		l->ca_file = *cfg->mesh.ca_file ? cfg->mesh.ca_file : NULL;
		l->ring = dp_mesh_link(id);
		l->fd = -1;
		l->quit_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		l->rbuf = malloc(RBUF);
		if (!l->ring || l->quit_efd < 0 || !l->rbuf)
			return -ENOMEM;
		mesh.nb = ++id;
	}
	for (unsigned int i = 0; i < mesh.nb; i++) {
		int rc = pthread_create(&mesh.links[i].thread, NULL, link_main,
					&mesh.links[i]);

		if (rc) {
			LOG_ERR("mesh: cannot start a link thread", "error=\"%s\"",
				strerror(rc));
			return -rc;
		}
		mesh.links[i].started = true;
	}
	LOG_INFO("mesh: dialling peers", "links=%u", mesh.nb);
	return 0;
}

void
ctl_mesh_stop(void)
{
	uint64_t one = 1;

	for (unsigned int i = 0; i < mesh.nb; i++) {
		atomic_store(&mesh.links[i].quit, 1);
		(void)!write(mesh.links[i].quit_efd, &one, sizeof(one));
	}
	for (unsigned int i = 0; i < mesh.nb; i++) {
		struct mesh_link *l = &mesh.links[i];

		if (l->started)
			pthread_join(l->thread, NULL);
		if (l->quit_efd >= 0)
			close(l->quit_efd);
		free(l->rbuf);
		free(l->out);
		free(l->pend);
	}
	free(mesh.links);
	memset(&mesh, 0, sizeof(mesh));
}

/* ------------------------------------------------------------------ */
/* Metrics and readiness                                                */

void
ctl_mesh_metrics(struct prom *p)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} f[] = {
		{"derper_mesh_link_connects_total", "Mesh link connections established, per peer",
		 offsetof(struct mesh_link, connects)},
		{"derper_mesh_link_failures_total", "Mesh link connection attempts that failed, per peer",
		 offsetof(struct mesh_link, failures)},
		{"derper_mesh_link_forwarded_total", "ForwardPacket frames sent over the link, per peer",
		 offsetof(struct mesh_link, forwarded)},
		{"derper_mesh_link_forward_drops_total", "Packets for the peer dropped (link down or full)",
		 offsetof(struct mesh_link, forward_drops)},
	};

	if (mesh.nb == 0)
		return;
	prom_family(p, "derper_mesh_link_up", "gauge",
		    "1 when the outbound mesh link to the peer is connected (self: 1)");
	for (unsigned int i = 0; i < mesh.nb; i++) {
		int st = atomic_load(&mesh.links[i].state);

		prom_u64(p, "derper_mesh_link_up", st == LINK_UP || st == LINK_SELF,
			 "peer", mesh.links[i].entry, NULL);
	}
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		prom_family(p, f[k].name, "counter", f[k].help);
		for (unsigned int i = 0; i < mesh.nb; i++)
			prom_u64(p, f[k].name,
				 __atomic_load_n((uint64_t *)((char *)&mesh.links[i] + f[k].off),
						 __ATOMIC_RELAXED),
				 "peer", mesh.links[i].entry, NULL);
	}
}

bool
ctl_mesh_settled(char *why, size_t n)
{
	for (unsigned int i = 0; i < mesh.nb; i++) {
		struct mesh_link *l = &mesh.links[i];
		int st = atomic_load(&l->state);

		/* every link has had its first try: up, or known to fail */
		if (st != LINK_UP && st != LINK_SELF &&
		    __atomic_load_n(&l->connects, __ATOMIC_RELAXED) == 0 &&
		    __atomic_load_n(&l->failures, __ATOMIC_RELAXED) == 0) {
			snprintf(why, n, "mesh link to %s not tried yet", l->entry);
			return false;
		}
	}
	return true;
}
