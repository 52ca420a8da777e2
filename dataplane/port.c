/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "config/addr.h"
#include "base/log.h"
#include "dataplane/exception.h"
#include "dataplane/pkt_filter.h"
#include "dataplane/port.h"

void
dp_port_name(const char *device, char *name, size_t len)
{
	size_t n = strcspn(device, ",");
	const char *colon = memchr(device, ':', n);

	/* "3b:02.1": the short PCI form; ethdev names carry the domain */
	if (colon && colon - device == 2 && memchr(colon + 1, '.', n - 3))
		snprintf(name, len, "0000:%.*s", (int)n, device);
	else
		snprintf(name, len, "%.*s", (int)n, device);
}

static int
setup_queues(uint16_t id, const char *what, uint16_t nb_q,
	     const struct derper_config *cfg, struct rte_mempool *pool,
	     bool *rx_l4_cksum)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nb_rxd = (uint16_t)cfg->dataplane.rx_desc;
	uint16_t nb_txd = (uint16_t)cfg->dataplane.tx_desc;
	int socket = rte_eth_dev_socket_id(id);
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(id, &info);
	if (rc)
		return rc;
	if (nb_q > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
	}
	*rx_l4_cksum = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	if (*rx_l4_cksum)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	rc = rte_eth_dev_configure(id, nb_q, nb_q, &conf);
	if (rc) {
		LOG_ERR("port: configure failed", "port=%s queues=%u error=\"%s\"",
			what, nb_q, rte_strerror(-rc));
		return rc;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(id, &nb_rxd, &nb_txd);
	for (uint16_t q = 0; q < nb_q; q++) {
		rc = rte_eth_rx_queue_setup(id, q, nb_rxd, socket < 0 ? 0 : (unsigned)socket,
					    NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(id, q, nb_txd,
						    socket < 0 ? 0 : (unsigned)socket, NULL);
		if (rc) {
			LOG_ERR("port: queue setup failed", "port=%s queue=%u error=\"%s\"",
				what, q, rte_strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(id);
	if (rc) {
		LOG_ERR("port: start failed", "port=%s error=\"%s\"", what,
			rte_strerror(-rc));
		return rc;
	}
	/* promiscuous off: only our MAC, broadcast and multicast */
	rte_eth_promiscuous_disable(id);
	return 0;
}

static uint16_t
queues_for(uint16_t id, unsigned int want)
{
	struct rte_eth_dev_info info;
	unsigned int q = want;

	if (rte_eth_dev_info_get(id, &info) == 0) {
		if (q > info.max_rx_queues)
			q = info.max_rx_queues;
		if (q > info.max_tx_queues)
			q = info.max_tx_queues;
	}
	return (uint16_t)(q ? q : 1);
}

static void
log_link(const struct dp_port *p)
{
	struct rte_eth_link link;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];

	memset(&link, 0, sizeof(link));
	rte_eth_link_get_nowait(p->id, &link);
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	LOG_INFO("port: up", "port=%s id=%u mac=%s link=%s speed=%u queues=%u mode=%s%s%s",
		 p->name, p->id, mac, link.link_status ? "up" : "down",
		 link.link_speed, p->nb_queues, p->exclusive ? "exclusive" : "shared",
		 p->exclusive ? " kernel_iface=" : "", p->exclusive ? p->exc_iface : "");
}

/* Exclusive mode: the exception PMD with the port's MAC, its kernel side
 * carrying the port's address. */
static int
setup_exception(struct dp_port *p, unsigned int idx, const struct cfg_port *cp,
		const struct derper_config *cfg, struct rte_mempool *pool)
{
	char devargs[CFG_DEVICE_LEN + 128], driver[64], mac[RTE_ETHER_ADDR_FMT_SIZE];
	const char *extra = strchr(cp->exception, ',');
	bool cksum;
	int rc;

	snprintf(driver, sizeof(driver), "%.*s", (int)strcspn(cp->exception, ","),
		 cp->exception);
	snprintf(p->exc_name, sizeof(p->exc_name), "%s_x%u", driver, idx);
	if (*cp->exception_iface)
		snprintf(p->exc_iface, sizeof(p->exc_iface), "%s", cp->exception_iface);
	else
		snprintf(p->exc_iface, sizeof(p->exc_iface), "derp%u", idx);
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	snprintf(devargs, sizeof(devargs), "%s%s,iface=%s,mac=%s", p->exc_name,
		 extra ? extra : "", p->exc_iface, mac);
	rc = rte_dev_probe(devargs);
	if (rc) {
		LOG_ERR("port: exception path failed", "port=%s devargs=\"%s\" error=\"%s\"",
			p->name, devargs, rte_strerror(-rc));
		return rc;
	}
	if (rte_eth_dev_get_port_by_name(p->exc_name, &p->exc_id)) {
		LOG_ERR("port: exception port not found", "name=%s", p->exc_name);
		return -ENODEV;
	}
	rc = setup_queues(p->exc_id, p->exc_name, p->nb_queues, cfg, pool, &cksum);
	if (rc)
		return rc;
	dp_exception_quiet_wire(cp->device);
	rc = dp_exception_iface_up(p->exc_iface, cp->address);
	if (rc == 0 && *cp->gateway)
		rc = dp_exception_route(p->exc_iface, cp->address, cp->gateway, 100 + idx);
	return rc;
}

int
dp_ports_init(const struct derper_config *cfg, unsigned int nb_queues,
	      struct rte_mempool *pool, struct dp_port *ports)
{
	for (unsigned int i = 0; i < cfg->dataplane.nb_ports; i++) {
		const struct cfg_port *cp = &cfg->dataplane.ports[i];
		struct dp_port *p = &ports[i];
		int rc;

		memset(p, 0, sizeof(*p));
		p->exc_id = DP_NO_PORT;
		p->exclusive = cp->mode == CFG_PORT_EXCLUSIVE;
		dp_port_name(cp->device, p->name, sizeof(p->name));
		if (rte_eth_dev_get_port_by_name(p->name, &p->id)) {
			LOG_ERR("port: device not probed by EAL", "port=%s device=\"%s\" hint=\"%s\"",
				p->name, cp->device,
				"a PCI device must be bound to vfio-pci; a vdev's arguments must be valid");
			return -ENODEV;
		}
		p->nb_queues = queues_for(p->id, nb_queues);
		rc = setup_queues(p->id, p->name, p->nb_queues, cfg, pool, &p->rx_l4_cksum);
		if (rc)
			return rc;
		rte_eth_macaddr_get(p->id, &p->mac);
		if (p->exclusive) {
			rc = setup_exception(p, i, cp, cfg, pool);
			if (rc)
				return rc;
		} else if (strncmp(cp->device, "net_af_packet", 13) == 0) {
			/* the kernel keeps the interface: only STUN is copied
			 * to the port's ring (pkt_filter.c) */
			rc = dp_filter_af_packet(cp->device, (uint16_t)cfg->stun.port,
						 cfg->stun.enabled, p->wait_fds,
						 DP_PORT_WAIT_FDS);
			if (rc < 0)
				return rc;
			/* every queue's socket, or the lcores keep polling */
			if (rc == p->nb_queues)
				p->nb_wait_fds = (unsigned int)rc;
		}
		log_link(p);
	}
	return 0;
}

static void
close_port(uint16_t id)
{
	if (id == DP_NO_PORT || !rte_eth_dev_is_valid_port(id))
		return;
	rte_eth_dev_stop(id);
	rte_eth_dev_close(id);
}

void
dp_ports_uninit(struct dp_port *ports, unsigned int nb)
{
	for (unsigned int i = 0; i < nb; i++) {
		close_port(ports[i].exc_id);
		if (ports[i].exc_id != DP_NO_PORT)
			rte_eal_hotplug_remove("vdev", ports[i].exc_name);
		close_port(ports[i].id);
	}
}
