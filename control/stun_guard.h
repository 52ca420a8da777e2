/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared mode leaves the interface to the kernel, which therefore also
 * sees the STUN requests the dataplane answers (net_af_packet hands DPDK
 * a copy of every frame). Without a socket on the STUN port the kernel
 * would send ICMP port unreachable for each. The guard binds the port
 * (IPv6 dual-stack, else IPv4) with a socket filter that drops every
 * datagram: no ICMP, nothing queued. Binding also fails loudly when
 * another STUN server (or derper) already owns the port.
 */
#ifndef DERPER_CONTROL_STUN_GUARD_H
#define DERPER_CONTROL_STUN_GUARD_H

#include "config/config.h"

/* Returns the socket (>= 0), -1 when no guard is needed, or -errno with
 * the cause logged. */
int ctl_stun_guard_open(const struct derper_config *cfg);

void ctl_stun_guard_close(int fd);

#endif /* DERPER_CONTROL_STUN_GUARD_H */
