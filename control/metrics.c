/* SPDX-License-Identifier: BSD-3-Clause */
/* The metrics and health listener; see metrics.h. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <rte_cycles.h>
#include <rte_version.h>

#include "control/acme.h"
#include "control/admit.h"
#include "base/clock.h"
#include "base/log.h"
#include "control/mesh.h"
#include "control/metrics.h"
#include "control/prom.h"
#include "dataplane/counters.h"
#include "dataplane/dataplane.h"
#include "dataplane/stun.h"
#include "tls/http.h"
#include "tls/listener.h"
#include "tls/tls.h"

enum {
	HEAD_MAX = 8192,
	IO_TIMEOUT_MS = 5000,	/* a connection's whole life */
	CONNS_MAX = 64,		/* served at once; the oldest gives way */
};

/* One connection of the listener: reading its request head, then writing
 * its answer. */
struct conn {
	int fd;			/* -1: free */
	uint64_t deadline_ms;
	size_t have;
	char *out;		/* the whole answer; NULL while reading */
	size_t out_len, out_off;
	char buf[HEAD_MAX];
};

static struct {
	const struct derper_config *cfg;
	pthread_t thread;
	bool running;
	int fd, wake_fd;
	_Atomic int stop;
	time_t started;
	struct conn conns[CONNS_MAX];
	_Atomic uint64_t timed_out, evicted;	/* written by the thread */
} met = {.fd = -1, .wake_fd = -1};

/* ------------------------------------------------------------------ */
/* The exposition                                                       */

static void
counter(struct prom *p, const char *name, const char *help, uint64_t v)
{
	prom_family(p, name, "counter", help);
	prom_u64(p, name, v, NULL);
}

static void
gauge(struct prom *p, const char *name, const char *help, uint64_t v)
{
	prom_family(p, name, "gauge", help);
	prom_u64(p, name, v, NULL);
}

/* A family of two series told apart by one label: label=a and label=b. */
static void
pair(struct prom *p, const char *name, const char *type, const char *help,
     const char *label, const char *a, uint64_t va, const char *b, uint64_t vb)
{
	prom_family(p, name, type, help);
	prom_u64(p, name, va, label, a, NULL);
	prom_u64(p, name, vb, label, b, NULL);
}

static void
tls_families(struct prom *p)
{
	static const double rtt_bounds_us[] = TLS_RTT_BOUNDS_US;
	static const double sq_bounds[] = TLS_SQ_BOUNDS;
	static const double fwd_bounds_us[] = TLS_FWD_BOUNDS_US;
	double rtt_bounds[TLS_RTT_BUCKETS - 1], fwd_bounds[TLS_FWD_BUCKETS - 1];
	struct tls_counters c;

	tls_server_counters(&c);
	counter(p, "derper_accepts_total", "TCP connections accepted (DERP port and port 80)",
		c.accepts);
	prom_family(p, "derper_sessions", "gauge", "DERP sessions now, by transport");
	for (int t = 0; t < TLS_TR_NB; t++)
		prom_u64(p, "derper_sessions", c.open[t], "transport", tls_transport_name(t), NULL);
	counter(p, "derper_sessions_opened_total", "DERP sessions established (ServerInfo sent)",
		c.sessions_derp);
	counter(p, "derper_websocket_sessions_opened_total",
		"DERP sessions established over WebSocket", c.sessions_ws);
	counter(p, "derper_mesh_sessions_opened_total",
		"Sessions that presented the mesh key", c.mesh_sessions);
	counter(p, "derper_http_requests_total", "HTTP requests answered", c.http_requests);
	pair(p, "derper_tls_sessions_total", "counter",
	     "Completed TLS handshakes by who carries the records afterwards", "records",
	     "relay_tls13", c.tls13_records, "openssl", c.tls_openssl);
	pair(p, "derper_tls_key_updates_total", "counter",
	     "TLS 1.3 KeyUpdate messages (closed sessions)", "direction",
	     "received", c.key_updates_in, "sent", c.key_updates_out);
	prom_family(p, "derper_session_closes_total", "counter",
		    "Connections closed, by reason (handshake failures, timeouts, bad frames, ...)");
	for (int r = 0; r < TLS_CLOSE_NB; r++)
		prom_u64(p, "derper_session_closes_total", c.closes[r], "reason",
			 tls_close_reason_name(r), NULL);
	pair(p, "derper_packets_total", "counter",
	     "DERP packets: received from clients (SendPacket) and delivered (RecvPacket)",
	     "direction", "received", c.packets_in, "delivered", c.packets_out);
	pair(p, "derper_packet_bytes_total", "counter", "DERP packet payload bytes", "direction",
	     "received", c.bytes_in, "delivered", c.bytes_out);
	counter(p, "derper_pings_received_total", "Ping frames from clients", c.pings_in);
	counter(p, "derper_client_throttles_total",
		"Times a client's reading paused at limits.client_bytes_per_sec (backpressure)",
		c.throttles);
	counter(p, "derper_output_pauses_total",
		"Times reading a client paused because its unsent output passed the limit "
		"(requests or pings it does not read the answers to)",
		c.output_pauses);
	counter(p, "derper_read_yields_total",
		"Times a client's reading stopped at its share of a TLS thread's turn "
		"(64 KiB) with more to read: it continues after the other clients",
		c.read_yields);
	counter(p, "derper_queue_full_writes_total",
		"Times a packet found its receiver's queue full and the queue was written "
		"to the socket first, so that only what the socket cannot take is dropped",
		c.early_flushes);
	counter(p, "derper_accept_pauses_total",
		"Times accepting paused with a backoff because the process was out of "
		"file descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)",
		c.accept_pauses);
	counter(p, "derper_keepalives_sent_total", "KeepAlive frames sent", c.keepalives);
	counter(p, "derper_restarting_sent_total", "Restarting frames sent on shutdown",
		c.restarting_sent);
	counter(p, "derper_mesh_forward_received_total", "ForwardPacket frames from mesh peers",
		c.mesh_forward_in);
	prom_family(p, "derper_drops_total", "counter", "Packets dropped, by stage and reason");
	for (int r = 0; r < TLS_DROP_NB; r++)
		prom_u64(p, "derper_drops_total", c.drops[r], "stage", "tls", "reason",
			 tls_drop_reason_name(r), NULL);
	{
		struct dp_counters d;
		static const char *const names[DP_DROP_NB] = {
			"ring_full", "unknown_dest", "stale_session", "dup_client",
			"table_full", "bad_msg", "no_mbuf", "unknown_dest_on_fwd", "watch_full",
			"backlog_full",
		};

		dp_counters_sum(&d);
		for (int r = 0; r < DP_DROP_NB; r++)
			prom_u64(p, "derper_drops_total", d.drops[r], "stage", "forwarding",
				 "reason", names[r], NULL);
	}
	prom_family(p, "derper_send_queue_depth", "histogram",
		    "Depth of a client's send queue after each enqueue");
	prom_histogram(p, "derper_send_queue_depth", sq_bounds, c.sq_hist, TLS_SQ_BUCKETS,
		       (double)c.sq_depth_sum, NULL, NULL);
	for (int b = 0; b < TLS_RTT_BUCKETS - 1; b++)
		rtt_bounds[b] = rtt_bounds_us[b] / 1e6;
	prom_family(p, "derper_ping_rtt_seconds", "histogram",
		    "Round trip of the server's Ping to clients that answer pings");
	prom_histogram(p, "derper_ping_rtt_seconds", rtt_bounds, c.rtt_hist, TLS_RTT_BUCKETS,
		       (double)c.rtt_us_sum / 1e6, NULL, NULL);
	for (int b = 0; b < TLS_FWD_BUCKETS - 1; b++)
		fwd_bounds[b] = fwd_bounds_us[b] / 1e6;
	prom_family(p, "derper_forward_delay_seconds", "histogram",
		    "Time a delivered packet spent in the relay: from reading its "
		    "first bytes to writing it to the receiver's socket");
	prom_histogram(p, "derper_forward_delay_seconds", fwd_bounds, c.fwd_hist,
		       TLS_FWD_BUCKETS,
		       rte_get_tsc_hz() ? (double)c.fwd_tsc_sum / (double)rte_get_tsc_hz() : 0.0,
		       NULL, NULL);
}

static void
dataplane_families(struct prom *p)
{
	unsigned int n = dp_nb_lcores(), used, cap;
	struct dp_counters *c = calloc(n ? n : 1, sizeof(*c));
	char id[16];
	static const struct {
		const char *name, *help;
		size_t off;
	} f[] = {
		{"derper_port_rx_packets_total", "Frames received from the dataplane ports",
		 offsetof(struct dp_counters, rx_pkts)},
		{"derper_port_tx_packets_total", "Frames sent to the ports and the kernel",
		 offsetof(struct dp_counters, tx_pkts)},
		{"derper_port_tx_dropped_total", "Frames dropped: tx queue full",
		 offsetof(struct dp_counters, tx_dropped)},
		{"derper_stun_answered_total", "STUN binding requests answered",
		 offsetof(struct dp_counters, stun_answered)},
		{"derper_stun_rate_limited_total", "STUN requests dropped by the per-source limit",
		 offsetof(struct dp_counters, stun_rate_limited)},
		{"derper_forwarded_total", "DERP frames routed by the forwarding lcore",
		 offsetof(struct dp_counters, forwarded)},
	};

	if (!c)
		return;
	for (unsigned int i = 0; i < n; i++)
		dp_counters_lcore(i, &c[i]);
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		prom_family(p, f[k].name, "counter", f[k].help);
		for (unsigned int i = 0; i < n; i++) {
			snprintf(id, sizeof(id), "%u", i);
			prom_u64(p, f[k].name, *(uint64_t *)((char *)&c[i] + f[k].off),
				 "lcore", id, NULL);
		}
	}
	prom_family(p, "derper_stun_dropped_total", "counter",
		    "STUN-port packets dropped, by what was wrong with them");
	for (unsigned int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%u", i);
		for (int r = 1; r < STUN_VERDICT_NB; r++)
			prom_u64(p, "derper_stun_dropped_total", c[i].stun_drops[r], "lcore", id,
				 "reason", stun_verdict_name(r), NULL);
		prom_u64(p, "derper_stun_dropped_total", c[i].stun_multiseg, "lcore", id,
			 "reason", "multi_segment", NULL);
	}
	prom_family(p, "derper_exception_packets_total", "counter",
		    "Exclusive mode: frames between the wire and the kernel's interface");
	for (unsigned int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%u", i);
		prom_u64(p, "derper_exception_packets_total", c[i].exc_in, "lcore", id,
			 "direction", "to_kernel", NULL);
		prom_u64(p, "derper_exception_packets_total", c[i].exc_out, "lcore", id,
			 "direction", "from_kernel", NULL);
	}
	free(c);
	{
		struct dp_pool_usage derp, nic;

		dp_pools_usage(&derp, &nic);
		pair(p, "derper_mempool_mbufs_in_use", "gauge",
		     "Mbufs in use: pool derp (DERP frames), nic (ports, STUN, exception path)",
		     "pool", "derp", derp.in_use, "nic", nic.in_use);
		pair(p, "derper_mempool_mbufs", "gauge", "Mbufs in each pool", "pool",
		     "derp", derp.size, "nic", nic.size);
	}
	dp_rings_usage(&used, &cap);
	gauge(p, "derper_ring_entries", "Entries waiting in the TLS/mesh <-> dataplane rings", used);
	gauge(p, "derper_ring_capacity", "Capacity of those rings", cap);
}

/* ------------------------------------------------------------------ */
/* Health                                                               */

static bool
ready(char *out, size_t n, bool verbose)
{
	char why[256];
	size_t o = 0;
	bool all = true;
	struct {
		const char *name;
		bool ok;
	} checks[4];

	why[0] = '\0';
	checks[0].name = "listener";
	checks[0].ok = tls_server_port() > 0;
	checks[1].name = "dataplane";
	checks[1].ok = dp_nb_lcores() > 0;
	checks[2].name = "certificate";
	checks[2].ok = ctl_acme_ready(why, sizeof(why));
	checks[3].name = "mesh";
	checks[3].ok = ctl_mesh_settled(why + strlen(why), sizeof(why) - strlen(why));
	for (int i = 0; i < 4; i++) {
		all &= checks[i].ok;
		if (verbose || !checks[i].ok)
			o += (size_t)snprintf(out + o, o < n ? n - o : 0, "[%s] %s\n",
					      checks[i].ok ? "+" : "-", checks[i].name);
	}
	if (*why)
		o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s\n", why);
	snprintf(out + (o < n ? o : n - 1), o < n ? n - o : 1, "%s\n", all ? "ok" : "not ready");
	return all;
}

char *
ctl_metrics_text(size_t *len, bool openmetrics)
{
	struct prom p;
	char ver[128];

	prom_init(&p);
	p.openmetrics = openmetrics;
	snprintf(ver, sizeof(ver), "%s", OpenSSL_version(OPENSSL_VERSION));
	prom_family(&p, "derper_build_info", "gauge", "Version and libraries (value 1)");
	prom_u64(&p, "derper_build_info", 1, "version", DERPER_VERSION, "dpdk", rte_version(),
		 "openssl", ver, NULL);
	gauge(&p, "derper_start_time_seconds", "Start time of the process (Unix seconds)",
	      (uint64_t)met.started);
	{
		char why[512];

		gauge(&p, "derper_ready", "1 when /readyz answers 200 (listener, dataplane, "
		      "certificate and mesh checks all pass)", ready(why, sizeof(why), false));
	}
	gauge(&p, "derper_limits_max_sessions", "limits.max_sessions (0: no limit)",
	      (uint64_t)tls_server_max_sessions());
	tls_families(&p);
	dataplane_families(&p);
	prom_family(&p, "derper_metrics_connections_closed_total", "counter",
		    "Connections to this listener closed unanswered: past their deadline, "
		    "or the oldest making room for a new one");
	prom_u64(&p, "derper_metrics_connections_closed_total",
		 atomic_load_explicit(&met.timed_out, memory_order_relaxed), "reason", "timeout", NULL);
	prom_u64(&p, "derper_metrics_connections_closed_total",
		 atomic_load_explicit(&met.evicted, memory_order_relaxed), "reason", "evicted", NULL);
	ctl_admit_metrics(&p);
	ctl_mesh_metrics(&p);
	ctl_acme_metrics(&p);
	prom_end(&p);
	if (p.oom) {
		prom_free(&p);
		return NULL;
	}
	*len = p.len;
	return p.buf;
}

/* ------------------------------------------------------------------ */
/* The listener                                                         */

/* The whole answer, head and body, in one allocation (NULL on ENOMEM). */
static char *
answer(int status, const char *reason, const char *ctype, const char *body,
       size_t len, bool head, size_t *out_len)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			 status, reason, ctype, len);
	size_t blen = head ? 0 : len;
	char *o = malloc((size_t)n + blen);

	if (!o)
		return NULL;
	memcpy(o, hdr, (size_t)n);
	if (blen)
		memcpy(o + n, body, blen);
	*out_len = (size_t)n + blen;
	return o;
}

#define TEXT(status, reason, body) \
	answer(status, reason, "text/plain", body, sizeof(body) - 1, head, len)

/* The answer to a complete request head. */
static char *
route(const char *buf, size_t end, size_t *len)
{
	struct http_req req;
	char text[1024];
	bool head;

	if (http_parse_request(buf, end, &req)) {
		head = false;
		return TEXT(400, "Bad Request", "bad request\n");
	}
	head = http_str_eq(req.method, "HEAD");
	if (!head && !http_str_eq(req.method, "GET"))
		return TEXT(405, "Method Not Allowed", "GET only\n");
	if (http_str_eq(req.path, "/metrics")) {
		bool om = http_str_contains(req.accept, "application/openmetrics-text");
		size_t mlen;
		char *m = ctl_metrics_text(&mlen, om), *o;

		if (!m)
			return TEXT(500, "Internal Server Error", "out of memory\n");
		o = answer(200, "OK",
			   om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
			      : "text/plain; version=0.0.4; charset=utf-8",
			   m, mlen, head, len);
		free(m);
		return o;
	}
	if (http_str_eq(req.path, "/healthz"))
		return TEXT(200, "OK", "ok\n");
	if (http_str_eq(req.path, "/readyz")) {
		bool ok = ready(text, sizeof(text), http_str_contains(req.query, "verbose"));

		return answer(ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "text/plain",
			      text, strlen(text), head, len);
	}
	return TEXT(404, "Not Found", "not found\n");
}

#undef TEXT

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->have = c->out_len = c->out_off = 0;
}

/* Send what the socket takes; the connection ends with its answer. */
static void
conn_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL);

		if (w > 0) {
			c->out_off += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		break;
	}
	conn_close(c);
}

static void
conn_read(struct conn *c)
{
	size_t end;
	ssize_t r;

	for (;;) {
		if (c->have == sizeof(c->buf)) {
			c->out = answer(431, "Request Header Fields Too Large", "text/plain",
					"too large\n", 10, false, &c->out_len);
			break;
		}
		r = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			conn_close(c);
			return;
		}
		c->have += (size_t)r;
		end = http_head_end(c->buf, c->have, 0);
		if (end) {
			c->out = route(c->buf, end, &c->out_len);
			break;
		}
	}
	if (!c->out) {
		conn_close(c);
		return;
	}
	conn_write(c);
}

/* A free slot; when all are taken, the connection closest to its deadline
 * (the oldest) gives way, so a crowd of stalled clients cannot keep a
 * probe out. */
static struct conn *
conn_slot(void)
{
	struct conn *oldest = &met.conns[0];

	for (unsigned int i = 0; i < CONNS_MAX; i++) {
		if (met.conns[i].fd < 0)
			return &met.conns[i];
		if (met.conns[i].deadline_ms < oldest->deadline_ms)
			oldest = &met.conns[i];
	}
	conn_close(oldest);
	atomic_fetch_add_explicit(&met.evicted, 1, memory_order_relaxed);
	return oldest;
}

static void
accept_all(void)
{
	for (int i = 0; i < CONNS_MAX; i++) {
		int fd = accept4(met.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		c = conn_slot();
		c->fd = fd;
		c->deadline_ms = clock_mono_ms() + IO_TIMEOUT_MS;
		conn_read(c);		/* the request may be there already */
	}
}

/*
 * The listener: every connection at once, each with its own deadline, in
 * one poll loop, so /healthz and /readyz answer at once whatever other
 * clients of this port do (a kubelet probe must not wait behind a stalled
 * scraper).
 */
static void *
metrics_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "derper-metrics");
	for (unsigned int i = 0; i < CONNS_MAX; i++)
		met.conns[i].fd = -1;
	while (!atomic_load(&met.stop)) {
		struct pollfd p[2 + CONNS_MAX] = {{.fd = met.fd, .events = POLLIN},
						  {.fd = met.wake_fd, .events = POLLIN}};
		struct conn *of[2 + CONNS_MAX];
		uint64_t now = clock_mono_ms();
		int n = 2, timeout = IO_TIMEOUT_MS;

		for (unsigned int i = 0; i < CONNS_MAX; i++) {
			struct conn *c = &met.conns[i];

			if (c->fd < 0)
				continue;
			if (now >= c->deadline_ms) {
				conn_close(c);
				atomic_fetch_add_explicit(&met.timed_out, 1, memory_order_relaxed);
				continue;
			}
			if ((int64_t)(c->deadline_ms - now) < timeout)
				timeout = (int)(c->deadline_ms - now);
			of[n] = c;
			p[n].fd = c->fd;
			p[n++].events = c->out ? POLLOUT : POLLIN;
		}
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		if (p[1].revents || atomic_load(&met.stop))
			break;
		for (int i = 2; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (of[i]->out)
				conn_write(of[i]);
			else
				conn_read(of[i]);
		}
		if (p[0].revents & POLLIN)
			accept_all();
	}
	for (unsigned int i = 0; i < CONNS_MAX; i++)
		if (met.conns[i].fd >= 0)
			conn_close(&met.conns[i]);
	return NULL;
}

int
ctl_metrics_start(const struct derper_config *cfg)
{
	char err[256];

	met.cfg = cfg;
	met.started = time(NULL);
	if (!*cfg->metrics.listen)
		return 0;
	met.fd = tls_listener_open(cfg->metrics.listen, -1, err, sizeof(err));
	if (met.fd < 0) {
		LOG_ERR("metrics: cannot listen", "error=\"%s\"", err);
		return met.fd;
	}
	met.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (met.wake_fd < 0 || pthread_create(&met.thread, NULL, metrics_main, NULL)) {
		LOG_ERR("metrics: cannot start", "error=\"%s\"", strerror(errno));
		return -EAGAIN;
	}
	met.running = true;
	LOG_INFO("metrics: serving", "listen=\"%s\" port=%d paths=\"/metrics /healthz /readyz\"",
		 cfg->metrics.listen, tls_listener_port(met.fd));
	return 0;
}

void
ctl_metrics_stop(void)
{
	uint64_t one = 1;

	if (met.running) {
		atomic_store(&met.stop, 1);
		(void)!write(met.wake_fd, &one, sizeof(one));
		pthread_join(met.thread, NULL);
		met.running = false;
	}
	if (met.fd >= 0)
		close(met.fd);
	if (met.wake_fd >= 0)
		close(met.wake_fd);
	met.fd = met.wake_fd = -1;
}
