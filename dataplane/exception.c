/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "config/addr.h"
#include "config/config.h"
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

/* Set `flag` (IFF_UP, IFF_NOARP) on an interface: 0 or -errno. */
static int
set_flag(const char *iface, short flag)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", iface);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= flag;
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
	rc = set_flag(iface, IFF_UP);
	if (rc == 0)
		rc = c.family == AF_INET ? set_v4(iface, &c) : set_v6(iface, &c);
	if (rc)
		LOG_ERR("port: kernel interface setup failed", "iface=%s address=%s error=\"%s\"",
			iface, cidr, strerror(-rc));
	else
		LOG_INFO("port: kernel interface up", "iface=%s address=%s", iface, cidr);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Keeping the kernel off an exclusive port's own interface             */

static int
sysctl_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "we");
	int rc = 0;

	if (!f)
		return -errno;
	if (fputs(value, f) == EOF)
		rc = -errno;
	if (fclose(f) && rc == 0)
		rc = -errno;
	return rc;
}

static int
sysctl_read_int(const char *path, int *v)
{
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return -errno;
	if (fscanf(f, "%d", v) != 1)
		rc = -EINVAL;
	fclose(f);
	return rc;
}

void
dp_exception_quiet_wire(const char *device)
{
	const char *p = strstr(device, ",iface=");
	char iface[IFNAMSIZ], path[128];
	int rc, all = 0;

	if (!p)
		return;		/* a PCI device: no kernel interface */
	p += 7;
	snprintf(iface, sizeof(iface), "%.*s", (int)strcspn(p, ","), p);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", iface);
	rc = sysctl_write(path, "1");
	if (rc == 0) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", iface);
		rc = sysctl_write(path, "1");
		if (rc == -ENOENT)
			rc = 0;		/* a kernel without IPv6 */
	}
	if (rc == 0)
		rc = set_flag(iface, IFF_NOARP);
	if (rc) {
		LOG_WARN("port: cannot keep the kernel off the port's interface",
			 "iface=%s error=\"%s\" hint=\"%s\"", iface, strerror(-rc),
			 "the kernel may take TCP for the port's address on it as well, "
			 "and answer twice: set rp_filter=1, arp off, disable_ipv6=1 on it");
		return;
	}
	if (sysctl_read_int("/proc/sys/net/ipv4/conf/all/rp_filter", &all) == 0 && all == 2)
		LOG_WARN("port: loose reverse-path filtering overrides the port's interface",
			 "iface=%s hint=\"%s\"", iface,
			 "net.ipv4.conf.all.rp_filter=2 lets the kernel take TCP arriving on it "
			 "as well as through the exception interface; set all.rp_filter to 0 or 1");
	LOG_INFO("port: kernel kept off the port's interface", "iface=%s rp_filter=1 arp=off ipv6=off",
		 iface);
}

/* ------------------------------------------------------------------ */
/* Policy routing for the exception interface (rtnetlink, startup only) */

struct nlreq {
	struct nlmsghdr h;
	union {
		struct rtmsg rt;
		struct fib_rule_hdr fr;
	} u;
	char attrs[256];
};

static void
nl_attr(struct nlreq *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Send one request and read its acknowledgement: 0 or -errno. */
static int
nl_talk(int fd, struct nlreq *r)
{
	char buf[4096];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t n;

	if (send(fd, r, r->h.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(h, (size_t)n) || h->nlmsg_type != NLMSG_ERROR)
		return -EPROTO;
	return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

int
dp_exception_route(const char *iface, const char *cidr, const char *gateway,
		   unsigned int table)
{
	struct cfg_cidr c, g;
	char err[128], gw[CFG_ADDR_LEN + 8];
	unsigned int ifindex = if_nametoindex(iface), alen, prio = 1000 + table;
	uint8_t net[16];
	struct nlreq r;
	int fd, rc;

	snprintf(gw, sizeof(gw), "%s/%d", gateway, strchr(gateway, ':') ? 128 : 32);
	if (cfg_cidr_parse(cidr, &c, err, sizeof(err)) ||
	    cfg_cidr_parse(gw, &g, err, sizeof(err)) || !ifindex)
		return -EINVAL;
	alen = c.family == AF_INET ? 4 : 16;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;

	/* from <address> lookup <table> */
	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct fib_rule_hdr));
	r.h.nlmsg_type = RTM_NEWRULE;
	r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	r.u.fr.family = (unsigned char)c.family;
	r.u.fr.src_len = (unsigned char)(alen * 8);
	r.u.fr.action = FR_ACT_TO_TBL;
	r.u.fr.table = RT_TABLE_UNSPEC;
	nl_attr(&r, FRA_SRC, c.addr, alen);
	nl_attr(&r, FRA_TABLE, &table, sizeof(table));
	nl_attr(&r, FRA_PRIORITY, &prio, sizeof(prio));
	rc = nl_talk(fd, &r);
	if (rc == -EEXIST)
		rc = 0;		/* from an earlier run: the same rule */

	/* the port's own network, then the default route, in that table */
	for (int step = 0; rc == 0 && step < 2; step++) {
		memset(&r, 0, sizeof(r));
		r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
		r.h.nlmsg_type = RTM_NEWROUTE;
		r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
		r.u.rt.rtm_family = (unsigned char)c.family;
		r.u.rt.rtm_table = RT_TABLE_UNSPEC;
		r.u.rt.rtm_protocol = RTPROT_STATIC;
		r.u.rt.rtm_type = RTN_UNICAST;
		if (step == 0) {
			memcpy(net, c.addr, 16);
			for (unsigned int b = c.prefix; b < alen * 8; b++)
				net[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
			r.u.rt.rtm_dst_len = (unsigned char)c.prefix;
			r.u.rt.rtm_scope = RT_SCOPE_LINK;
			nl_attr(&r, RTA_DST, net, alen);
		} else {
			r.u.rt.rtm_scope = RT_SCOPE_UNIVERSE;
			nl_attr(&r, RTA_GATEWAY, g.addr, alen);
		}
		nl_attr(&r, RTA_OIF, &ifindex, sizeof(ifindex));
		nl_attr(&r, RTA_TABLE, &table, sizeof(table));
		rc = nl_talk(fd, &r);
	}
	close(fd);
	if (rc)
		LOG_ERR("port: policy route failed", "iface=%s from=%s gateway=%s table=%u error=\"%s\"",
			iface, cidr, gateway, table, strerror(-rc));
	else
		LOG_INFO("port: replies routed via the port's gateway",
			 "iface=%s from=%s gateway=%s table=%u", iface, cidr, gateway, table);
	return rc;
}
