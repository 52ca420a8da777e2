/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/addr.h"
#include "control/log.h"
#include "dataplane/exception.h"

/* <linux/ipv6.h>'s in6_ifreq, which glibc's headers do not carry */
struct in6_ifreq_ {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

static int
set_v4(const char *iface, const struct cfg_cidr *c)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
	uint32_t mask = c->prefix ? htonl(~0u << (32 - c->prefix)) : 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", iface);
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, c->addr, 4);
	if (ioctl(fd, SIOCSIFADDR, &ifr))
		rc = -errno;
	memcpy(&sin->sin_addr, &mask, 4);
	if (rc == 0 && ioctl(fd, SIOCSIFNETMASK, &ifr))
		rc = -errno;
	close(fd);
	return rc;
}

static int
set_v6(const char *iface, const struct cfg_cidr *c)
{
	struct in6_ifreq_ r;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	memcpy(&r.addr, c->addr, 16);
	r.prefixlen = c->prefix;
	r.ifindex = (int)if_nametoindex(iface);
	if (!r.ifindex || ioctl(fd, SIOCSIFADDR, &r))
		rc = -errno;
	close(fd);
	return rc;
}

static int
set_up(const char *iface)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", iface);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			rc = -errno;
	} else {
		rc = -errno;
	}
	close(fd);
	return rc;
}

int
dp_exception_iface_up(const char *iface, const char *cidr)
{
	struct cfg_cidr c;
	char err[128];
	int rc;

	if (cfg_cidr_parse(cidr, &c, err, sizeof(err)))
		return -EINVAL;	/* validated at load; cannot happen */
	rc = set_up(iface);
	if (rc == 0)
		rc = c.family == AF_INET ? set_v4(iface, &c) : set_v6(iface, &c);
	if (rc)
		LOG_ERR("port: kernel interface setup failed", "iface=%s address=%s error=\"%s\"",
			iface, cidr, strerror(-rc));
	else
		LOG_INFO("port: kernel interface up", "iface=%s address=%s", iface, cidr);
	return rc;
}
