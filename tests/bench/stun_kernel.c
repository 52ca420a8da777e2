/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel baseline for STUN: the best a socket server can do, one
 * thread, recvmmsg() and sendmmsg() in batches of 64, the same request
 * validation and response as the relay (dataplane/stun.c).
 *
 *   stun_kernel PORT SECONDS
 * Prints answered=N when it stops.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dataplane/stun.h"

enum { BATCH = 64 };

int
main(int argc, char **argv)
{
	struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	static uint8_t bufs[BATCH][2048], out[BATCH][64];
	struct mmsghdr rx[BATCH], tx[BATCH];
	struct iovec riov[BATCH], tiov[BATCH];
	struct sockaddr_in6 from[BATCH];
	unsigned long long answered = 0;
	time_t end;
	int fd, zero = 0;

	if (argc != 3)
		return 2;
	addr.sin6_port = htons((uint16_t)atoi(argv[1]));
	end = time(NULL) + atoi(argv[2]);
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	/* recvmmsg's own timeout is only checked between datagrams */
	{
		struct timeval tv = {.tv_usec = 100000};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < BATCH; i++) {
		riov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
		rx[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_iov = &riov[i], .msg_iovlen = 1};
	}
	while (time(NULL) < end) {
		int n, k = 0;

		for (int i = 0; i < BATCH; i++)
			rx[i].msg_hdr.msg_namelen = sizeof(from[i]);
		n = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
		for (int i = 0; i < n; i++) {
			uint8_t txid[12];
			const uint8_t *a = from[i].sin6_addr.s6_addr;
			static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
			bool v4 = memcmp(a, mapped, 12) == 0;
			size_t len;

			if (stun_parse_request(bufs[i], rx[i].msg_len, false, txid) != STUN_OK)
				continue;
			len = stun_build_response(out[k], txid, v4 ? STUN_FAMILY_IPV4 : STUN_FAMILY_IPV6,
						  v4 ? a + 12 : a, ntohs(from[i].sin6_port));
			tiov[k] = (struct iovec){out[k], len};
			tx[k].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
							.msg_iov = &tiov[k], .msg_iovlen = 1};
			k++;
		}
		if (k > 0 && sendmmsg(fd, tx, (unsigned int)k, 0) > 0)
			answered += (unsigned long long)k;
	}
	printf("answered=%llu\n", answered);
	return 0;
}
