/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP relay load: N sender/receiver pairs over TLS through one relay,
 * from one epoll loop per thread (non-blocking OpenSSL after a blocking
 * handshake).
 *
 *   relay_load HOST PORT MODE PAIRS SIZE ARG SECONDS [RELAY_PID]
 *     MODE window    each pair keeps at most ARG packets in flight
 *          rate      ARG packets/s in all, spread over the pairs (open loop)
 *          pingpong  one pair, A -> B -> A, ARG round trips (RTT)
 *          idle      ARG idle sessions: the relay's RSS per session
 *
 * Prints one line of key=value results. With RELAY_PID, the relay's CPU
 * time (all threads) over the measured window is divided by the packets
 * delivered. RELAY_PLAIN=1 speaks plain HTTP (no TLS): relays that serve
 * DERP only so (Hyper-DERP here), and TLS's share of a relay's cost.
 *
 * RELAY_LOAD_THREADS=T (default 1) splits the pairs over T threads, each
 * with its own loop; a pair's two ends stay in one thread. The output
 * says how busy the busiest thread was (gen_busy_max, its CPU time over
 * the window): near 1.0 the generator, not the relay, sets the pace, and
 * its own backlog is in the latencies.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "control/derp_client.h"
#include "tls/derp_wire.h"
#include "tls/frame.h"

enum { RBUF = 1 << 18, WBUF = 1 << 18, MAX_CONNS = 20000, EVS = 1024 };

struct conn {
	struct derp_client *c;
	SSL *ssl;
	int fd;
	uint8_t *r;		/* read buffer */
	size_t rlen;
	uint8_t *w;		/* frames not yet written */
	size_t wlen;
	int peer;		/* index of the other end of the pair */
	uint64_t sent, recv;
	uint64_t probes;	/* warm-up packets received (stamp 0) */
	bool dirty;		/* on the pending-output list */
	struct worker *wk;	/* the thread that owns the connection */
};

/* One thread's share of the pairs, and what it measured. */
struct worker {
	pthread_t th;
	int *pairs;		/* pair indices */
	int nb_pairs;
	int *pending;		/* connections with frames to write */
	int nb_pending;
	uint64_t *lat;		/* latency samples, ns */
	size_t nb_lat, cap_lat;
	uint64_t delivered;
	uint64_t bursts, burst_max;	/* rate mode: loops that queued packets */
	double busy;		/* thread CPU time / window */
	int failed;
};

static struct conn *conns;
static int nb;

/* the run's parameters, set once by main before the threads start */
static bool pingpong, window, rate_mode;
static double arg;
static size_t size;
static int pairs;
static uint64_t t0, end;

/* The measured loop writes only the connections that have something to
 * write and learns which to read from epoll: its cost per loop follows
 * the traffic, not the number of sessions (2,000 sockets at 1,000 pairs). */
static void
mark(struct conn *c)
{
	struct worker *w = c->wk;

	if (w->pending && !c->dirty && c->wlen) {
		c->dirty = true;
		w->pending[w->nb_pending++] = (int)(c - conns);
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double
proc_cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long
proc_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* One write or read on the session's transport: TLS, or the socket when
 * plain. 1: n bytes done; 0: would block; -1: closed or failed. */
static int
xfer_write(struct conn *s, const void *b, size_t len, size_t *n)
{
	ssize_t r;

	if (s->ssl) {
		int rc = SSL_write_ex(s->ssl, b, len, n), e;

		if (rc == 1)
			return 1;
		e = SSL_get_error(s->ssl, rc);
		return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
	}
	r = write(s->fd, b, len);
	if (r > 0) {
		*n = (size_t)r;
		return 1;
	}
	return r < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
}

static int
xfer_read(struct conn *s, void *b, size_t len, size_t *n)
{
	ssize_t r;

	if (s->ssl) {
		int rc = SSL_read_ex(s->ssl, b, len, n), e;

		if (rc == 1)
			return 1;
		e = SSL_get_error(s->ssl, rc);
		return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
	}
	r = read(s->fd, b, len);
	if (r > 0) {
		*n = (size_t)r;
		return 1;
	}
	return r < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
}

static void
queue_packet(struct conn *s, const uint8_t *dst, size_t len, uint64_t stamp)
{
	uint8_t *p;

	if (s->wlen + DERP_FRAME_HEADER_LEN + DERP_KEY_LEN + len > WBUF)
		return;
	p = s->w + s->wlen;
	derp_put_header(p, DERP_FRAME_SEND_PACKET, (uint32_t)(DERP_KEY_LEN + len));
	memcpy(p + 5, dst, DERP_KEY_LEN);
	memset(p + 37, 0xab, len);
	if (len >= 8)
		memcpy(p + 37, &stamp, 8);
	s->wlen += DERP_FRAME_HEADER_LEN + DERP_KEY_LEN + len;
	s->sent++;
	mark(s);
}

static int
flush(struct conn *s)
{
	while (s->wlen) {
		size_t n = 0;
		int r = xfer_write(s, s->w, s->wlen, &n);

		if (r != 1)
			return r;
		memmove(s->w, s->w + n, s->wlen - n);
		s->wlen -= n;
	}
	return 0;
}

static void
sample(struct worker *w, uint64_t v)
{
	if (w->nb_lat == w->cap_lat) {
		uint64_t *n;

		w->cap_lat = w->cap_lat ? w->cap_lat * 2 : 1 << 16;
		n = realloc(w->lat, w->cap_lat * sizeof(*n));
		if (!n)
			abort();
		w->lat = n;
	}
	w->lat[w->nb_lat++] = v;
}

/* Read what is there; count RecvPackets; answer pings. Returns packets. */
static int
drain(struct conn *c, bool echo)
{
	int got = 0;

	for (;;) {
		size_t n = 0;
		int r = xfer_read(c, c->r + c->rlen, RBUF - c->rlen, &n);
		size_t off = 0;

		if (r != 1)
			return r == 0 ? got : -1;
		c->rlen += n;
		while (c->rlen - off >= 5) {
			uint32_t len = (uint32_t)c->r[off + 1] << 24 | (uint32_t)c->r[off + 2] << 16 |
				       (uint32_t)c->r[off + 3] << 8 | c->r[off + 4];
			uint8_t type = c->r[off];
			const uint8_t *pl = c->r + off + 5;

			if (len > RBUF - 5)
				return -1;
			if (c->rlen - off < 5 + (size_t)len)
				break;
			if (type == DERP_FRAME_RECV_PACKET && len >= 32 + 8) {
				uint64_t stamp;

				memcpy(&stamp, pl + 32, 8);
				if (stamp == 0) {	/* a warm-up probe */
					c->probes++;
					off += 5 + len;
					continue;
				}
				c->recv++;
				got++;
				if (echo)	/* pingpong: send it straight back */
					queue_packet(c, pl, len - 32, stamp);
				else
					sample(c->wk, now_ns() - stamp);
			} else if (type == DERP_FRAME_PING && len >= 8) {
				uint8_t pong[13];

				derp_put_header(pong, DERP_FRAME_PONG, 8);
				memcpy(pong + 5, pl, 8);
				if (c->wlen + 13 <= WBUF) {
					memcpy(c->w + c->wlen, pong, 13);
					c->wlen += 13;
					mark(c);
				}
			}
			off += 5 + len;
		}
		memmove(c->r, c->r + off, c->rlen - off);
		c->rlen -= off;
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Before measuring: one packet through every pair, resent every 100 ms
 * until it arrives (up to 5 s). A relay may register a session a moment
 * after its handshake (Hyper-DERP does); a packet sent before that is
 * dropped, and a lost packet would stall a lock-step or windowed pair.
 */
static int
warm_up(int n)
{
	struct pollfd *pfd = calloc((size_t)nb, sizeof(*pfd));
	uint64_t start = now_ns(), last = 0;
	int done = 0;

	while (done < n && now_ns() - start < 5000000000ULL) {
		if (now_ns() - last > 100000000ULL) {
			last = now_ns();
			for (int i = 0; i < n; i++)
				if (conns[2 * i + 1].probes == 0)
					queue_packet(&conns[2 * i], derp_client_pub(conns[2 * i + 1].c), 8, 0);
		}
		for (int i = 0; i < nb; i++) {
			if (flush(&conns[i]) < 0)
				goto fail;
			pfd[i] = (struct pollfd){.fd = conns[i].fd,
						 .events = (short)(POLLIN | (conns[i].wlen ? POLLOUT : 0))};
		}
		poll(pfd, (nfds_t)nb, 10);
		done = 0;
		for (int i = 0; i < nb; i++) {
			if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ||
			    (conns[i].ssl && SSL_has_pending(conns[i].ssl)))
				if (drain(&conns[i], false) < 0)
					goto fail;
			if (i % 2 && conns[i].probes)
				done++;
		}
	}
	free(pfd);
	for (int i = 0; i < nb; i++)
		conns[i].sent = 0;	/* the probes are not part of the run */
	return done == n ? 0 : -1;
fail:
	free(pfd);
	return -1;
}

static int
connect_all(const char *host, const char *port, int n)
{
	struct derp_client_opts o = {.host = host, .port = port, .sni = "localhost",
				     .tls = true, .insecure = true, .fast_start = true,
				     .timeout_ms = 10000};
	char err[256];

	/* RELAY_PLAIN=1: plain HTTP (a relay without TLS), to measure TLS's share */
	if (getenv("RELAY_PLAIN"))
		o.tls = false;
	conns = calloc((size_t)n, sizeof(*conns));
	if (!conns)
		return -1;
	for (int i = 0; i < n; i++) {
		struct conn *c = &conns[i];

		c->c = derp_client_connect(&o, err, sizeof(err));
		if (!c->c) {
			fprintf(stderr, "connect %d: %s\n", i, err);
			return -1;
		}
		c->ssl = derp_client_ssl(c->c);
		c->fd = derp_client_fd(c->c);
		c->r = malloc(RBUF);
		c->w = malloc(WBUF);
		if (!c->r || !c->w) {
			fprintf(stderr, "connect %d: out of memory\n", i);
			return -1;
		}
		c->rlen = derp_client_take_buffered(c->c, c->r, RBUF);
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
		nb++;
	}
	return 0;
}

/* One thread's loop over its pairs until the window ends. */
static void *
run_worker(void *arg_w)
{
	struct worker *w = arg_w;
	struct epoll_event *evs = calloc(EVS, sizeof(*evs));
	int epfd = epoll_create1(0);
	double share = (double)w->nb_pairs / pairs;	/* of the rate */
	uint64_t budget = 0;	/* rate mode: packets allowed so far */
	uint64_t rt_sent = 0, rt_start = 0, cpu0;
	struct timespec ts;
	int rr = 0;

	if (!evs || epfd < 0)
		goto fail;
	/* edge-triggered: a connection is read until it would block and
	 * written until empty or full; EPOLLOUT says when a full one drains */
	for (int k = 0; k < w->nb_pairs; k++)
		for (int e = 0; e < 2; e++) {
			int i = 2 * w->pairs[k] + e;
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
						 .data.u32 = (uint32_t)i};

			if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev)) {
				perror("epoll_ctl");
				goto fail;
			}
			mark(&conns[i]);
		}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	cpu0 = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	while (now_ns() < end) {
		uint64_t t = now_ns(), b0;
		int nev, keep = 0;

		if (pingpong) {
			struct conn *a = &conns[0];

			if (a->sent == a->recv && (double)rt_sent < arg) {
				rt_start = t;
				queue_packet(a, derp_client_pub(conns[1].c), size, t);
				rt_sent++;
			}
		} else if (window) {
			for (int k = 0; k < w->nb_pairs; k++) {
				struct conn *s = &conns[2 * w->pairs[k]], *r = s + 1;

				while (s->sent - r->recv < (uint64_t)arg &&
				       s->wlen + 37 + size <= WBUF)
					queue_packet(s, derp_client_pub(r->c), size, t);
			}
		} else if (rate_mode) {
			uint64_t allowed = (uint64_t)(arg * share * (double)(t - t0) / 1e9);

			for (b0 = budget; budget < allowed; budget++, rr = (rr + 1) % w->nb_pairs) {
				struct conn *s = &conns[2 * w->pairs[rr]], *r = s + 1;

				queue_packet(s, derp_client_pub(r->c), size, t);
			}
			if (budget > b0) {
				w->bursts++;
				if (budget - b0 > w->burst_max)
					w->burst_max = budget - b0;
			}
		}
		/* write what is pending; what a full socket left stays on the
		 * list, and its EPOLLOUT edge brings us back */
		for (int k = 0; k < w->nb_pending; k++) {
			struct conn *c = &conns[w->pending[k]];

			if (flush(c) < 0) {
				fprintf(stderr, "connection %d failed\n", w->pending[k]);
				goto fail;
			}
			if (c->wlen)
				w->pending[keep++] = w->pending[k];
			else
				c->dirty = false;
		}
		w->nb_pending = keep;
		nev = epoll_wait(epfd, evs, EVS, 1);
		for (int e = 0; e < nev; e++) {
			int i = (int)evs[e].data.u32;
			int got;

			if (!(evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			got = drain(&conns[i], pingpong && i == 1);
			if (got < 0) {
				fprintf(stderr, "connection %d closed\n", i);
				goto fail;
			}
			w->delivered += (uint64_t)got;
			if (pingpong && i == 0 && got)
				sample(w, now_ns() - rt_start);
		}
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	w->busy = (double)((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec - cpu0) /
		  (double)(now_ns() - t0);
	free(evs);
	close(epfd);
	return NULL;
fail:
	w->failed = 1;
	free(evs);
	if (epfd >= 0)
		close(epfd);
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *host, *port, *mode, *env = getenv("RELAY_LOAD_THREADS");
	int pid, nthreads = env ? atoi(env) : 1;
	double secs, cpu0, cpu1, busy_max = 0;
	uint64_t delivered = 0, bursts = 0, burst_max = 0, nb_lat = 0;
	struct worker *wk;
	uint64_t *lat;

	if (argc < 8) {
		fprintf(stderr, "usage: %s HOST PORT window|rate|pingpong|idle PAIRS SIZE ARG SECONDS [PID]\n",
			argv[0]);
		return 2;
	}
	host = argv[1];
	port = argv[2];
	mode = argv[3];
	pairs = atoi(argv[4]);
	size = (size_t)atol(argv[5]);
	arg = atof(argv[6]);
	secs = atof(argv[7]);
	pid = argc > 8 ? atoi(argv[8]) : 0;
	pingpong = strcmp(mode, "pingpong") == 0;
	window = strcmp(mode, "window") == 0;
	rate_mode = strcmp(mode, "rate") == 0;
	if (size < 8)
		size = 8;

	if (strcmp(mode, "idle") == 0) {
		long before = proc_rss_kb(pid), after;
		int n = (int)arg;

		if (connect_all(host, port, n))
			return 1;
		after = proc_rss_kb(pid);
		printf("sessions=%d rss_before_kb=%ld rss_after_kb=%ld per_session_kib=%.2f\n", n,
		       before, after, (double)(after - before) / n);
		return 0;
	}
	if (pingpong)
		pairs = 1;
	if (pairs < 1 || (!pingpong && !window && !rate_mode)) {
		fprintf(stderr, "bad mode or pair count\n");
		return 2;
	}
	if (nthreads < 1 || nthreads > 64)
		nthreads = 1;
	if (nthreads > pairs)
		nthreads = pairs;
	if (connect_all(host, port, 2 * pairs))
		return 1;
	/* pair i belongs to thread i % nthreads */
	wk = calloc((size_t)nthreads, sizeof(*wk));
	if (!wk) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (int t = 0; t < nthreads; t++)
		if (!(wk[t].pairs = calloc((size_t)pairs, sizeof(int)))) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
	for (int i = 0; i < pairs; i++) {
		struct worker *w = &wk[i % nthreads];

		conns[2 * i].peer = 2 * i + 1;
		conns[2 * i + 1].peer = 2 * i;
		conns[2 * i].wk = conns[2 * i + 1].wk = w;
		w->pairs[w->nb_pairs++] = i;
	}
	/* the warm-up writes from this thread; the pending lists come after */
	if (warm_up(pairs)) {
		fprintf(stderr, "warm-up: a pair's first packet never arrived\n");
		return 1;
	}
	for (int t = 0; t < nthreads; t++)
		if (!(wk[t].pending = calloc((size_t)nb, sizeof(int)))) {
			fprintf(stderr, "out of memory\n");
			return 1;
		}
	cpu0 = proc_cpu_s(pid);
	t0 = now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&wk[t].th, NULL, run_worker, &wk[t])) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	for (int t = 0; t < nthreads; t++) {
		pthread_join(wk[t].th, NULL);
		if (wk[t].failed)
			return 1;
		delivered += wk[t].delivered;
		bursts += wk[t].bursts;
		burst_max = wk[t].burst_max > burst_max ? wk[t].burst_max : burst_max;
		busy_max = wk[t].busy > busy_max ? wk[t].busy : busy_max;
		nb_lat += wk[t].nb_lat;
	}
	cpu1 = proc_cpu_s(pid);
	lat = malloc((nb_lat ? nb_lat : 1) * sizeof(*lat));
	if (!lat)
		return 1;
	nb_lat = 0;
	for (int t = 0; t < nthreads; t++) {
		if (wk[t].nb_lat)
			memcpy(lat + nb_lat, wk[t].lat, wk[t].nb_lat * sizeof(*lat));
		nb_lat += wk[t].nb_lat;
	}
	{
		double el = (double)(now_ns() - t0) / 1e9;
		uint64_t pkts = pingpong ? conns[0].recv : delivered;

		qsort(lat, nb_lat, sizeof(*lat), cmp_u64);
		printf("mode=%s pairs=%d size=%zu arg=%g seconds=%.2f delivered=%llu pps=%.0f "
		       "MBps=%.2f p50_us=%.1f p99_us=%.1f relay_cpu_us_per_pkt=%.2f",
		       mode, pairs, size, arg, el, (unsigned long long)pkts, pkts / el,
		       pkts * (double)size / el / 1e6,
		       nb_lat ? lat[nb_lat / 2] / 1e3 : 0.0,
		       nb_lat ? lat[(nb_lat * 99) / 100] / 1e3 : 0.0,
		       pid && pkts ? (cpu1 - cpu0) * 1e6 / (double)pkts : 0.0);
		if (rate_mode && bursts)
			printf(" burst_mean=%.1f burst_max=%llu", arg * el / (double)bursts,
			       (unsigned long long)burst_max);
		printf(" gen_threads=%d gen_busy_max=%.2f\n", nthreads, busy_max);
	}
	fflush(stdout);	/* before LeakSanitizer's exit in a sanitized build */
	return 0;
}
