/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derpprobe: check a DERP server end to end, as Tailscale's derpprobe
 * does. Connects two clients, relays packets both ways, measures the
 * round trip through the relay, optionally checks STUN, and exits non-zero
 * with the reason on the first failure.
 *
 *   derpprobe [--insecure] [--ca FILE] [--sni NAME] [--count N]
 *             [--size BYTES] [--timeout SECONDS] [--stun HOST:PORT]
 *             [--no-fast-start] URL
 *   URL: https://host[:port][/derp] or http://host[:port][/derp]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "control/derp_client.h"
#include "dataplane/stun.h"
#include "tls/derp_wire.h"
#include "tls/handshake.h"
#include "tls/keyfile.h"

struct probe {
	struct derp_client_opts o;
	char host[256], port[16];
	int count;
	size_t size;
	const char *stun;
	int verbose;
};

static int
fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "derpprobe: FAIL: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return 1;
}

static int
parse_url(struct probe *p, const char *url)
{
	const char *h = url, *end;
	size_t n;

	p->o.tls = true;
	if (strncmp(url, "https://", 8) == 0) {
		h = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		h = url + 7;
		p->o.tls = false;
	}
	snprintf(p->port, sizeof(p->port), "%s", p->o.tls ? "443" : "80");
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return -EINVAL;
		n = (size_t)(end - h - 1);
		snprintf(p->host, sizeof(p->host), "%.*s", (int)n, h + 1);
		h = end + 1;
	} else {
		n = strcspn(h, ":/");
		snprintf(p->host, sizeof(p->host), "%.*s", (int)n, h);
		h += n;
	}
	if (*h == ':') {
		n = strcspn(h + 1, "/");
		snprintf(p->port, sizeof(p->port), "%.*s", (int)n, h + 1);
		h += 1 + n;
	}
	if (*h && strcmp(h, "/derp") != 0 && strcmp(h, "/") != 0)
		return -EINVAL;
	return p->host[0] ? 0 : -EINVAL;
}

/* Wait for the next RecvPacket, answering pings; skip other frames. */
static int
recv_packet(struct derp_client *c, uint8_t *buf, size_t cap, size_t *len,
	    int timeout_ms)
{
	uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * 1000000ULL;

	for (;;) {
		uint8_t type;
		int64_t left = (int64_t)(deadline - clock_mono_ns()) / 1000000;
		int rc;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = derp_client_read(c, &type, buf, cap, len, (int)left);
		if (rc)
			return rc;
		if (type == DERP_FRAME_RECV_PACKET)
			return 0;
		if (type == DERP_FRAME_PING)
			derp_client_send(c, DERP_FRAME_PONG, buf, DERP_PING_LEN, NULL, 0);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
relay_round_trips(struct probe *p, struct derp_client *a, struct derp_client *b)
{
	uint8_t *out = malloc(p->size + 8), *in = malloc(DERP_MAX_PACKET + 64);
	uint64_t *rtt = calloc((size_t)p->count, sizeof(*rtt));
	size_t len;
	int rc = 0;

	if (!out || !in || !rtt)
		return fail("%s", "out of memory");
	for (int i = 0; i < p->count && rc == 0; i++) {
		uint64_t t0 = clock_mono_ns();

		tls_random(out, p->size);
		if (derp_client_send(a, DERP_FRAME_SEND_PACKET, derp_client_pub(b),
				     DERP_KEY_LEN, out, p->size)) {
			rc = fail("%s", "sending A->B");
			break;
		}
		if (recv_packet(b, in, DERP_MAX_PACKET + 64, &len, p->o.timeout_ms)) {
			rc = fail("%s", "packet A->B did not arrive");
			break;
		}
		if (len != DERP_KEY_LEN + p->size ||
		    memcmp(in, derp_client_pub(a), DERP_KEY_LEN) ||
		    memcmp(in + DERP_KEY_LEN, out, p->size)) {
			rc = fail("%s", "packet A->B arrived altered (source or payload)");
			break;
		}
		if (derp_client_send(b, DERP_FRAME_SEND_PACKET, derp_client_pub(a),
				     DERP_KEY_LEN, in + DERP_KEY_LEN, p->size) ||
		    recv_packet(a, in, DERP_MAX_PACKET + 64, &len, p->o.timeout_ms)) {
			rc = fail("%s", "packet B->A did not arrive");
			break;
		}
		if (len != DERP_KEY_LEN + p->size ||
		    memcmp(in, derp_client_pub(b), DERP_KEY_LEN) ||
		    memcmp(in + DERP_KEY_LEN, out, p->size)) {
			rc = fail("%s", "packet B->A arrived altered (source or payload)");
			break;
		}
		rtt[i] = clock_mono_ns() - t0;
	}
	if (rc == 0) {
		qsort(rtt, (size_t)p->count, sizeof(*rtt), cmp_u64);
		printf("relay: %d round trips of %zu bytes: min %.1f us, p50 %.1f us, p99 %.1f us, max %.1f us\n",
		       p->count, p->size, rtt[0] / 1e3, rtt[p->count / 2] / 1e3,
		       rtt[(p->count * 99) / 100] / 1e3, rtt[p->count - 1] / 1e3);
	}
	free(out);
	free(in);
	free(rtt);
	return rc;
}

static int
check_stun(struct probe *p)
{
	char host[256], *port;
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res;
	uint8_t req[STUN_TAILSCALE_REQUEST_LEN], resp[512], txid[STUN_TXID_LEN];
	uint8_t addr[16];
	char text[INET6_ADDRSTRLEN];
	uint16_t mport;
	int family, fd, rc;
	ssize_t n;

	snprintf(host, sizeof(host), "%s", p->stun);
	port = strrchr(host, ':');
	if (!port)
		return fail("--stun %s: expected host:port", p->stun);
	*port++ = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return fail("STUN: cannot resolve %s", host);
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen)) {
		freeaddrinfo(res);
		return fail("STUN: %s", strerror(errno));
	}
	freeaddrinfo(res);
	tls_random(txid, sizeof(txid));
	stun_build_tailscale_request(req, txid);
	for (int attempt = 0; attempt < 3; attempt++) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (send(fd, req, sizeof(req), 0) != (ssize_t)sizeof(req))
			break;
		if (poll(&pfd, 1, p->o.timeout_ms / 3) != 1)
			continue;
		n = recv(fd, resp, sizeof(resp), 0);
		if (n > 0 && stun_parse_response(resp, (size_t)n, txid, &family, addr,
						 &mport) == 0) {
			inet_ntop(family == STUN_FAMILY_IPV4 ? AF_INET : AF_INET6, addr,
				  text, sizeof(text));
			printf("stun: %s answered: you are %s%s%s:%u\n", p->stun,
			       family == STUN_FAMILY_IPV6 ? "[" : "", text,
			       family == STUN_FAMILY_IPV6 ? "]" : "", mport);
			close(fd);
			return 0;
		}
	}
	close(fd);
	return fail("STUN: no valid answer from %s", p->stun);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: derpprobe [--insecure] [--ca FILE] [--sni NAME] [--count N]\n"
		   "                 [--size BYTES] [--timeout SECONDS] [--stun HOST:PORT]\n"
		   "                 [--no-fast-start] [--stun-only] URL\n"
		   "  URL  https://host[:port][/derp] or http://host[:port][/derp]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"insecure", no_argument, NULL, 'k'},
		{"ca", required_argument, NULL, 'c'},
		{"sni", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'n'},
		{"size", required_argument, NULL, 'z'},
		{"timeout", required_argument, NULL, 't'},
		{"stun", required_argument, NULL, 'u'},
		{"no-fast-start", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct probe p = {.count = 10, .size = 1200};
	struct derp_client *a, *b;
	char err[512], hex[65];
	int c, rc;

	/* line by line, even into a pipe: a probe killed by a timeout still
	 * shows how far it got */
	setvbuf(stdout, NULL, _IOLBF, 0);
	p.o.timeout_ms = 5000;
	p.o.fast_start = true;
	while ((c = getopt_long(argc, argv, "kh", opts, NULL)) != -1) {
		switch (c) {
		case 'k': p.o.insecure = true; break;
		case 'c': p.o.ca_file = optarg; break;
		case 's': p.o.sni = optarg; break;
		case 'n': p.count = atoi(optarg); break;
		case 'z': p.size = (size_t)atol(optarg); break;
		case 't': p.o.timeout_ms = atoi(optarg) * 1000; break;
		case 'u': p.stun = optarg; break;
		case 'F': p.o.fast_start = false; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || parse_url(&p, argv[optind]) || p.count < 1 ||
	    p.count > 1000000 || p.size > DERP_MAX_PACKET || p.o.timeout_ms <= 0) {
		usage(stderr);
		return 2;
	}
	p.o.host = p.host;
	p.o.port = p.port;
	a = derp_client_connect(&p.o, err, sizeof(err));
	if (!a)
		return fail("client A: %s", err);
	b = derp_client_connect(&p.o, err, sizeof(err));
	if (!b) {
		derp_client_close(a);
		return fail("client B: %s", err);
	}
	tls_key_hex(derp_client_server_pub(a), hex);
	printf("derp: %s:%s %s%s server key nodekey:%s\n", p.host, p.port,
	       derp_client_tls_version(a),
	       derp_client_fast_start(a) ? " fast-start" : "", hex);
	rc = relay_round_trips(&p, a, b);
	derp_client_close(a);
	derp_client_close(b);
	if (rc == 0 && p.stun)
		rc = check_stun(&p);
	if (rc == 0)
		printf("derpprobe: OK\n");
	return rc;
}
