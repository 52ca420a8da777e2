/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "control/stun_guard.h"

int
ctl_stun_guard_open(const struct derper_config *cfg)
{
	struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = {.len = 1, .filter = &drop};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons((uint16_t)cfg->stun.port),
				  .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)cfg->stun.port)};
	bool shared = false;
	int fd, zero = 0, rc;

	for (unsigned int i = 0; i < cfg->dataplane.nb_ports; i++)
		shared |= cfg->dataplane.ports[i].mode == CFG_PORT_SHARED;
	if (!cfg->stun.enabled || !shared)
		return -1;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0)
			goto done;
		rc = -errno;
		close(fd);
		if (rc != -EAFNOSUPPORT && rc != -EADDRNOTAVAIL)
			goto fail;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4))) {
		rc = -errno;
		close(fd);
		goto fail;
	}
done:
	LOG_INFO("stun: kernel port guarded", "port=%lld reason=\"%s\"",
		 (long long)cfg->stun.port,
		 "shared mode: the kernel must not answer what the dataplane answers");
	return fd;
fail:
	LOG_ERR("stun: the STUN port is in use", "port=%lld error=\"%s\" hint=\"%s\"",
		(long long)cfg->stun.port, strerror(-rc),
		"another STUN server (or derper) is listening on it");
	return rc;
}

void
ctl_stun_guard_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
