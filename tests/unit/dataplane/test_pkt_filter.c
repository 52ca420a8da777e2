/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared-mode packet socket filter, run by the kernel: a packet socket
 * on the loopback interface (the real thing net_af_packet opens, on an
 * interface every machine has), found and filtered the way the relay does
 * it, then UDP and TCP over IPv4 and IPv6 sent through loopback. Only UDP
 * to the STUN port may be copied to the socket. Needs CAP_NET_RAW (root),
 * as the relay does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "dataplane/pkt_filter.h"
#include "tests/lib/harness.h"

static int
packet_socket(void)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	CU_ASSERT_FATAL(fd >= 0);
	sll.sll_ifindex = (int)if_nametoindex("lo");
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	return fd;
}

/* A port number of our own on 127.0.0.1 for UDP (the "STUN port") and
 * TCP both: a TCP listener on an ephemeral port, and UDP bound to the
 * same number (another process may hold it for UDP: try the next one). */
static int
udp_port(int *fd, int *tfd)
{
	for (int tries = 0; tries < 64; tries++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t al = sizeof(a);

		*tfd = socket(AF_INET, SOCK_STREAM, 0);
		*fd = socket(AF_INET, SOCK_DGRAM, 0);
		CU_ASSERT_FATAL(*tfd >= 0 && *fd >= 0);
		CU_ASSERT_FATAL(bind(*tfd, (struct sockaddr *)&a, sizeof(a)) == 0);
		CU_ASSERT_FATAL(listen(*tfd, 1) == 0);
		CU_ASSERT_FATAL(getsockname(*tfd, (struct sockaddr *)&a, &al) == 0);
		if (bind(*fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return ntohs(a.sin_port);
		close(*fd);
		close(*tfd);
	}
	CU_FAIL_FATAL("no port free for both UDP and TCP");
	return -1;
}

static void
drain(int pfd)
{
	uint8_t f[2048];

	while (recv(pfd, f, sizeof(f), MSG_DONTWAIT) > 0)
		;
}

static void
send_udp(int family, uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(family, SOCK_DGRAM, 0);
	ssize_t n;

	CU_ASSERT_FATAL(fd >= 0);
	n = family == AF_INET
			    ? sendto(fd, "stun?", 5, 0, (struct sockaddr *)&a4, sizeof(a4))
			    : sendto(fd, "stun?", 5, 0, (struct sockaddr *)&a6, sizeof(a6));

	CU_ASSERT_EQUAL(n, 5);
	close(fd);
}

/* A TCP connection to port on 127.0.0.1 (our listener from udp_port). */
static void
tcp_to(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int c = socket(AF_INET, SOCK_STREAM, 0);

	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT(connect(c, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT(send(c, "GET /", 5, 0) == 5);
	close(c);
}

struct seen {
	unsigned int v4, v6, other;
};

static struct seen
frames(int pfd, uint16_t port)
{
	struct seen s = {0, 0, 0};
	uint8_t f[2048];
	ssize_t n;

	while ((n = recv(pfd, f, sizeof(f), MSG_DONTWAIT)) > 0) {
		uint16_t type = (uint16_t)(f[12] << 8 | f[13]);

		if (type == ETH_P_IP && n >= 14 + 20 + 4 && f[14 + 9] == IPPROTO_UDP) {
			const uint8_t *udp = f + 14 + 4 * (f[14] & 0xf);

			if ((uint16_t)(udp[2] << 8 | udp[3]) == port) {
				s.v4++;
				continue;
			}
		} else if (type == ETH_P_IPV6 && n >= 14 + 40 + 4 && f[14 + 6] == IPPROTO_UDP &&
			   (uint16_t)(f[14 + 42] << 8 | f[14 + 43]) == port) {
			s.v6++;
			continue;
		}
		s.other++;
	}
	return s;
}

static void
test_only_stun_passes(void)
{
	int pfd = packet_socket(), ufd, tfd, fds[4] = {-1, -1, -1, -1};
	uint16_t port = (uint16_t)udp_port(&ufd, &tfd);
	struct seen s;

	/* found and filtered as the relay does: by the device's iface */
	CU_ASSERT_EQUAL_FATAL(dp_filter_af_packet("net_af_packet0,iface=lo", port, true, fds, 4), 1);
	CU_ASSERT_EQUAL(fds[0], pfd);
	drain(pfd);	/* what came before the filter */
	send_udp(AF_INET, port);
	send_udp(AF_INET6, port);
	send_udp(AF_INET, (uint16_t)(port + 1));
	send_udp(AF_INET6, (uint16_t)(port + 1));
	tcp_to(port);
	s = frames(pfd, port);
	/* loopback shows each frame on the way out and in */
	CU_ASSERT(s.v4 >= 1);
	CU_ASSERT(s.v6 >= 1);
	CU_ASSERT_EQUAL(s.other, 0);
	close(ufd);
	close(tfd);
	close(pfd);
}

static void
test_stun_off_passes_nothing(void)
{
	int pfd = packet_socket(), ufd, tfd, fds[4];
	uint16_t port = (uint16_t)udp_port(&ufd, &tfd);
	struct seen s;

	CU_ASSERT_EQUAL_FATAL(dp_filter_af_packet("net_af_packet0,iface=lo", port, false, fds, 4), 1);
	drain(pfd);
	send_udp(AF_INET, port);
	send_udp(AF_INET6, port);
	s = frames(pfd, port);
	CU_ASSERT_EQUAL(s.v4 + s.v6 + s.other, 0);
	close(ufd);
	close(tfd);
	close(pfd);
}

static void
test_program_fits_and_bad_device(void)
{
	struct sock_filter code[DP_STUN_FILTER_MAX];
	int fds[1];

	CU_ASSERT(dp_stun_filter(3478, true, code, DP_STUN_FILTER_MAX) > 0);
	CU_ASSERT_EQUAL(dp_stun_filter(3478, true, code, 4), -ENOSPC);
	CU_ASSERT_EQUAL(dp_stun_filter(3478, false, code, 1), 1);
	/* no iface argument, or an interface that does not exist */
	CU_ASSERT(dp_filter_af_packet("net_af_packet0", 3478, true, fds, 1) < 0);
	CU_ASSERT(dp_filter_af_packet("net_af_packet0,iface=nosuch0", 3478, true, fds, 1) < 0);
}

static CU_TestInfo tests[] = {
	{"only UDP to the STUN port is copied (IPv4, IPv6)", test_only_stun_passes},
	{"STUN off: nothing is copied", test_stun_off_passes_nothing},
	{"program size, bad devices", test_program_fits_and_bad_device},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("dataplane/pkt_filter", tests)
