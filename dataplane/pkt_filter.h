/* SPDX-License-Identifier: BSD-3-Clause */
/* A shared-mode net_af_packet port sees only STUN (pkt_filter.c). */
#ifndef DERPER_DATAPLANE_PKT_FILTER_H
#define DERPER_DATAPLANE_PKT_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/filter.h>

#define DP_STUN_FILTER_MAX 48

/* The classic BPF program for a packet socket: frames of UDP to port
 * (IPv4 or IPv6, at most one VLAN tag in the frame) pass whole, the rest
 * not at all; with stun false, nothing passes. Returns its length, or
 * -ENOSPC when cap is too small. */
int dp_stun_filter(uint16_t port, bool stun, struct sock_filter *out, unsigned int cap);

/* Attach that program to this process's packet sockets bound to the
 * interface the net_af_packet device string names, and return up to cap
 * of them in fds (readable while their ring holds a frame). Returns how
 * many sockets, or a negative errno. */
int dp_filter_af_packet(const char *device, uint16_t stun_port, bool stun, int *fds,
			unsigned int cap);

#endif /* DERPER_DATAPLANE_PKT_FILTER_H */
