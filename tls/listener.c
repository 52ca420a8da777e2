/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/addr.h"
#include "tls/listener.h"

enum { LISTEN_BACKLOG = 4096 };

int
tls_listener_open(const char *addr, int port_override, char *err,
		  size_t errlen)
{
	char host[CFG_ADDR_LEN];
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;
	int fd, one = 1, zero = 0, rc;

	if (cfg_hostport_split(addr, host, sizeof(host), &port, err, errlen))
		return -EINVAL;
	if (port_override >= 0)
		port = (uint16_t)port_override;
	if (cfg_sockaddr(host, port, &ss, &len)) {
		snprintf(err, errlen, "listen %s: bad address", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && ss.ss_family == AF_INET6 && *host == '\0') {
		/* no IPv6 on this host: the wildcard falls back to IPv4 */
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;

		memset(&ss, 0, sizeof(ss));
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		len = sizeof(*in4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "listen %s: socket: %s", addr, strerror(errno));
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ss.ss_family == AF_INET6 && *host == '\0')
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, LISTEN_BACKLOG)) {
		rc = -errno;
		snprintf(err, errlen, "listen %s (port %u): %s", addr,
			 (unsigned int)port, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int
tls_listener_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void
tls_socket_tune(int fd, const struct derper_config *cfg)
{
	int one = 1;
	int idle = (int)cfg->limits.tcp_keepalive_s;
	unsigned int uto = (unsigned int)cfg->limits.tcp_user_timeout_s * 1000u;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (idle > 0) {
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		/* Go: the probe interval equals the idle time */
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
	}
	if (uto)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
}

void
tls_socket_peer(const struct sockaddr_storage *ss, uint8_t ip[16],
		uint16_t *port, char *text, size_t textlen)
{
	char a[INET6_ADDRSTRLEN] = "";

	memset(ip, 0, 16);
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;

		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &in4->sin_addr, 4);
		*port = ntohs(in4->sin_port);
		inet_ntop(AF_INET, &in4->sin_addr, a, sizeof(a));
		snprintf(text, textlen, "%s:%u", a, *port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
						   0xff, 0xff};

		memcpy(ip, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		if (memcmp(ip, mapped, 12) == 0) {
			inet_ntop(AF_INET, ip + 12, a, sizeof(a));
			snprintf(text, textlen, "%s:%u", a, *port);
		} else {
			inet_ntop(AF_INET6, ip, a, sizeof(a));
			snprintf(text, textlen, "[%s]:%u", a, *port);
		}
	} else {
		snprintf(text, textlen, "unknown");
	}
}
