/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port setup (startup and teardown only; docs/architecture.md §6). Every
 * configured device becomes an ethdev port with one rx and one tx queue
 * per dataplane lcore (RSS on IP/UDP where the PMD offers it), descriptor
 * counts from the config, promiscuous mode off. An exclusive port also
 * gets an exception port: a kernel interface made by a PMD (net_tap here,
 * net_virtio_user in production) with the port's MAC and address, so
 * ARP, ICMP and the TLS thread's TCP reach the kernel and its answers go
 * back out of the port.
 *
 * PMDs and modes:
 *   shared     net_af_xdp (XDP program steering UDP to the STUN port),
 *              net_af_packet (the kernel keeps a copy of every frame: the
 *              relay binds the STUN port with a drop-all filter so the
 *              kernel does not answer it), or a NIC with rte_flow isolation
 *   exclusive  any PMD that owns the wire: a PCI VF (vfio-pci),
 *              net_af_packet/net_af_xdp on an interface reserved for it,
 *              net_tap, net_pcap, net_ring, net_null (tests)
 */
#ifndef DERPER_DATAPLANE_PORT_H
#define DERPER_DATAPLANE_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "config/config.h"

#define DP_NO_PORT UINT16_MAX

struct rte_mempool;

#define DP_PORT_WAIT_FDS 16

struct dp_port {
	uint16_t id;			/* ethdev port */
	uint16_t exc_id;		/* exclusive: exception port, else DP_NO_PORT */
	bool exclusive;
	bool rx_l4_cksum;		/* the PMD verifies UDP checksums */
	uint16_t nb_queues;		/* rx = tx queues actually configured */
	char name[64];
	char exc_name[64];
	char exc_iface[16];
	struct rte_ether_addr mac;
	/* shared net_af_packet: the PMD's packet sockets, readable while a
	 * frame waits in their ring (an idle lcore blocks on them); 0 when
	 * the port can only be polled */
	unsigned int nb_wait_fds;
	int wait_fds[DP_PORT_WAIT_FDS];
};

/* The ethdev name of a device string: up to the first comma, PCI
 * addresses with their domain ("3b:02.1" -> "0000:3b:02.1"). */
void dp_port_name(const char *device, char *name, size_t len);

/*
 * Configure and start every port of cfg with nb_queues queue pairs from
 * `pool`. Returns 0 or -errno with the cause logged (a device EAL did not
 * probe, a queue that cannot be set up, ...).
 */
int dp_ports_init(const struct derper_config *cfg, unsigned int nb_queues,
		  struct rte_mempool *pool, struct dp_port *ports);

/* Stop and close every port (and exception port). */
void dp_ports_uninit(struct dp_port *ports, unsigned int nb);

#endif /* DERPER_DATAPLANE_PORT_H */
