/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STUN load at a fixed offered rate: Tailscale-style requests (distinct
 * transaction ids) sent with sendmmsg() from one socket, answers counted
 * with recvmmsg(), for a bounded time.
 *
 *   udp_load HOST PORT RATE SECONDS
 * Prints sent=N answered=M cpu_us=... (this process's own CPU time).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "dataplane/stun.h"

enum { BATCH = 32 };

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static uint8_t req[BATCH][40], resp[BATCH][128];
	struct mmsghdr tx[BATCH], rx[BATCH];
	struct iovec tiov[BATCH], riov[BATCH];
	struct sockaddr_in dst = {.sin_family = AF_INET};
	unsigned long long sent = 0, answered = 0;
	struct rusage ru;
	double rate, t0, end;
	int fd, buf = 8 << 20;

	if (argc != 5)
		return 2;
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	rate = atof(argv[3]);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		perror("connect");
		return 1;
	}
	for (int i = 0; i < BATCH; i++) {
		tiov[i] = (struct iovec){req[i], 40};
		tx[i].msg_hdr = (struct msghdr){.msg_iov = &tiov[i], .msg_iovlen = 1};
		riov[i] = (struct iovec){resp[i], sizeof(resp[i])};
		rx[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i], .msg_iovlen = 1};
	}
	t0 = now();
	end = t0 + atof(argv[4]);
	while (now() < end) {
		/* keep sent within one batch of rate * elapsed */
		while (sent + BATCH <= rate * (now() - t0)) {
			int n;

			for (int i = 0; i < BATCH; i++) {
				uint8_t id[12];
				unsigned long long k = sent + (unsigned long long)i;

				memcpy(id, &k, 8);
				memcpy(id + 8, "load", 4);
				stun_build_tailscale_request(req[i], id);
			}
			n = sendmmsg(fd, tx, BATCH, 0);
			if (n <= 0)
				break;
			sent += (unsigned long long)n;
		}
		for (int n; (n = recvmmsg(fd, rx, BATCH, 0, NULL)) > 0;)
			answered += (unsigned long long)n;
	}
	/* late answers */
	for (double stop = now() + 0.2; now() < stop;)
		for (int n; (n = recvmmsg(fd, rx, BATCH, 0, NULL)) > 0;)
			answered += (unsigned long long)n;
	getrusage(RUSAGE_SELF, &ru);
	printf("sent=%llu answered=%llu cpu_us=%ld\n", sent, answered,
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
		       ru.ru_stime.tv_usec);
	return 0;
}
