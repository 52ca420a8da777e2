/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A shared-mode net_af_packet port sees only STUN.
 *
 * A packet socket receives a copy of every frame on its interface. In
 * shared mode the kernel keeps the interface (its address, the TLS
 * listener's TCP), so without a filter the lcore would be handed a copy of
 * every TCP segment of every DERP session, only to classify it as "not
 * STUN" and free it (one run of tests/bench/run-tailnet: 43,508 of 43,509
 * frames). The PMD offers no filter, so after EAL has probed the port the
 * relay finds the PMD's packet sockets bound to the interface and attaches
 * a classic BPF program to each: UDP to the STUN port (IPv4 without a
 * fragment offset, IPv6 without extension headers, at most one VLAN tag
 * left in the frame) is copied to the ring, everything else is not. The
 * dataplane still classifies what arrives; the filter only keeps the rest
 * from being copied. Startup only: syscalls are fine here.
 *
 * The same sockets tell an idle lcore when a frame is waiting (a packet
 * socket's ring polls readable while a frame is the user's), so an lcore
 * whose ports are all such sockets blocks until kicked or a frame comes,
 * instead of napping and polling every dataplane.nap_us.
 */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/filter.h>
#include <linux/if_packet.h>

#include "base/log.h"
#include "dataplane/pkt_filter.h"

enum label { NEXT = -1, V4_0, V4_4, V6_0, V6_4, VLAN, ACCEPT, DROP, NB_LABELS };

struct insn {
	uint16_t code;
	int jt, jf;		/* labels (NEXT: the next instruction) */
	uint32_t k;
	int label;		/* this instruction starts label, or NEXT */
};

static unsigned int
emit(struct insn *p, unsigned int n, int label, uint16_t code, int jt, int jf,
     uint32_t k)
{
	p[n] = (struct insn){.code = code, .jt = jt, .jf = jf, .k = k, .label = label};
	return n + 1;
}

/* UDP over IPv4 at frame offset base, to port: accept, else drop. */
static unsigned int
emit_v4(struct insn *p, unsigned int n, int label, uint32_t base, uint16_t port)
{
	n = emit(p, n, label, BPF_LD | BPF_B | BPF_ABS, 0, 0, base + 9);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, NEXT, DROP, 17);
	n = emit(p, n, NEXT, BPF_LD | BPF_H | BPF_ABS, 0, 0, base + 6);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JSET | BPF_K, DROP, NEXT, 0x1fff);
	n = emit(p, n, NEXT, BPF_LDX | BPF_B | BPF_MSH, 0, 0, base);
	n = emit(p, n, NEXT, BPF_LD | BPF_H | BPF_IND, 0, 0, base + 2);
	return emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, ACCEPT, DROP, port);
}

/* UDP over IPv6 (no extension header) at frame offset base, to port. */
static unsigned int
emit_v6(struct insn *p, unsigned int n, int label, uint32_t base, uint16_t port)
{
	n = emit(p, n, label, BPF_LD | BPF_B | BPF_ABS, 0, 0, base + 6);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, NEXT, DROP, 17);
	n = emit(p, n, NEXT, BPF_LD | BPF_H | BPF_ABS, 0, 0, base + 40 + 2);
	return emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, ACCEPT, DROP, port);
}

int
dp_stun_filter(uint16_t port, bool stun, struct sock_filter *out, unsigned int cap)
{
	struct insn p[DP_STUN_FILTER_MAX];
	int at[NB_LABELS];
	unsigned int n = 0;

	if (!stun) {
		if (cap < 1)
			return -ENOSPC;
		out[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
		return 1;
	}
	n = emit(p, n, NEXT, BPF_LD | BPF_H | BPF_ABS, 0, 0, 12);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, V4_0, NEXT, 0x0800);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, V6_0, NEXT, 0x86dd);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, VLAN, NEXT, 0x8100);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, VLAN, DROP, 0x88a8);
	n = emit(p, n, VLAN, BPF_LD | BPF_H | BPF_ABS, 0, 0, 16);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, V4_4, NEXT, 0x0800);
	n = emit(p, n, NEXT, BPF_JMP | BPF_JEQ | BPF_K, V6_4, DROP, 0x86dd);
	n = emit_v4(p, n, V4_0, 14, port);
	n = emit_v4(p, n, V4_4, 18, port);
	n = emit_v6(p, n, V6_0, 14, port);
	n = emit_v6(p, n, V6_4, 18, port);
	n = emit(p, n, ACCEPT, BPF_RET | BPF_K, 0, 0, 0x40000);
	n = emit(p, n, DROP, BPF_RET | BPF_K, 0, 0, 0);
	if (n > cap)
		return -ENOSPC;
	for (unsigned int i = 0; i < n; i++)
		if (p[i].label != NEXT)
			at[p[i].label] = (int)i;
	for (unsigned int i = 0; i < n; i++) {
		int jt = p[i].jt == NEXT ? (int)i + 1 : at[p[i].jt];
		int jf = p[i].jf == NEXT ? (int)i + 1 : at[p[i].jf];
		bool jmp = BPF_CLASS(p[i].code) == BPF_JMP;

		out[i] = (struct sock_filter){.code = p[i].code, .k = p[i].k};
		if (jmp) {
			/* forward only, and within a byte: true by layout */
			out[i].jt = (uint8_t)(jt - (int)i - 1);
			out[i].jf = (uint8_t)(jf - (int)i - 1);
		}
	}
	return (int)n;
}

/* The interface a net_af_packet device string names (its "iface=" argument). */
static int
devargs_iface(const char *device, char *iface, size_t len)
{
	const char *a = strstr(device, ",iface=");
	size_t n;

	if (!a)
		return -EINVAL;
	a += strlen(",iface=");
	n = strcspn(a, ",");
	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(iface, a, n);
	iface[n] = '\0';
	return 0;
}

int
dp_filter_af_packet(const char *device, uint16_t stun_port, bool stun, int *fds,
		    unsigned int cap)
{
	struct sock_filter code[DP_STUN_FILTER_MAX];
	struct sock_fprog prog = {.filter = code};
	char iface[IF_NAMESIZE + 1];
	unsigned int ifindex, attached = 0;
	struct dirent *e;
	DIR *d;
	int n;

	if (devargs_iface(device, iface, sizeof(iface)) ||
	    (ifindex = if_nametoindex(iface)) == 0) {
		LOG_WARN("port: no interface for the packet filter", "device=\"%s\"", device);
		return -EINVAL;
	}
	n = dp_stun_filter(stun_port, stun, code, DP_STUN_FILTER_MAX);
	if (n < 0)
		return n;
	prog.len = (unsigned short)n;
	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		int domain = 0, fd = atoi(e->d_name);
		socklen_t dl = sizeof(domain);
		struct stat st;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d) ||
		    fstat(fd, &st) || !S_ISSOCK(st.st_mode) ||
		    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) || domain != AF_PACKET ||
		    getsockname(fd, (struct sockaddr *)&sll, &sl) ||
		    sll.sll_ifindex != (int)ifindex)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog))) {
			int err = errno;

			closedir(d);
			LOG_ERR("port: cannot attach the STUN filter", "iface=%s error=\"%s\"",
				iface, strerror(err));
			return -err;
		}
		if (attached < cap)
			fds[attached] = fd;
		attached++;
	}
	closedir(d);
	LOG_INFO("port: packet sockets see only STUN", "iface=%s sockets=%u stun_port=%u",
		 iface, attached, stun ? stun_port : 0);
	return (int)attached;
}
