/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel side of the exclusive-mode exception path: the interface the
 * exception PMD created gets the port's address and is brought up, so
 * the kernel answers ARP/NDP and ICMP for it and the TLS thread's sockets
 * work through it unchanged. Startup only (ioctl).
 */
#ifndef DERPER_DATAPLANE_EXCEPTION_H
#define DERPER_DATAPLANE_EXCEPTION_H

/* Assign `cidr` ("198.18.0.1/24" or "2001:db8::1/64") to `iface` and set
 * it up. Returns 0 or -errno (cause logged). */
int dp_exception_iface_up(const char *iface, const char *cidr);

/*
 * An exclusive port on a kernel interface (a device with "iface=":
 * net_af_packet, net_af_xdp): the frames reach the kernel there too, and
 * with the port's address on the exception interface of the same
 * namespace the kernel would accept them (weak host model) besides the
 * copy the exception path hands it: every TCP segment twice. Strict
 * reverse-path filtering on the interface makes the kernel drop them
 * there; ARP and IPv6 are turned off on it as well. Logs what it did or
 * why it could not; never fatal.
 */
void dp_exception_quiet_wire(const char *device);

/*
 * Policy routing for an exclusive port whose network is not the host's
 * default route (an SR-IOV VF beside the pod's cluster interface): "from
 * <address> lookup <table>", and in that table the port's network on the
 * interface and "default via <gateway>". Replies leave the way requests
 * came in. Idempotent across restarts. 0 or -errno (logged).
 */
int dp_exception_route(const char *iface, const char *cidr,
		       const char *gateway, unsigned int table);

#endif /* DERPER_DATAPLANE_EXCEPTION_H */
