/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane capacity, one lcore: a pcap of Binding Requests replayed
 * through net_pcap (infinite_rx) and sent to net_null, two ways in the
 * same run:
 *   echo   the baseline: rx burst, swap MACs, tx burst (the least a
 *          responder can do)
 *   stun   the relay's path: dp_wire_handle() (classify, validate, answer
 *          in place, rate limiter off) and its tx buffering
 * Reports packets/s of each and the ratio.
 *
 *   stun_capacity PCAP SECONDS [EAL args...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/wire.h"
#include "dataplane/test_hooks.h"

static struct rte_mempool *pool;

static int
port_up(uint16_t id)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(id, 1, 1, &conf) ||
	    rte_eth_rx_queue_setup(id, 0, 1024, 0, NULL, pool) ||
	    rte_eth_tx_queue_setup(id, 0, 1024, 0, NULL) || rte_eth_dev_start(id))
		return -1;
	return 0;
}

static double
run_echo(uint16_t in, uint16_t out, double secs)
{
	struct rte_mbuf *pkts[32];
	uint64_t end = rte_get_tsc_cycles() + (uint64_t)(secs * rte_get_tsc_hz());
	uint64_t n = 0, t0 = rte_get_tsc_cycles();

	while (rte_get_tsc_cycles() < end) {
		uint16_t nb = rte_eth_rx_burst(in, 0, pkts, 32), sent;

		for (uint16_t i = 0; i < nb; i++) {
			struct rte_ether_hdr *e = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
			struct rte_ether_addr t = e->src_addr;

			e->src_addr = e->dst_addr;
			e->dst_addr = t;
		}
		sent = rte_eth_tx_burst(out, 0, pkts, nb);
		if (sent < nb)
			rte_pktmbuf_free_bulk(pkts + sent, nb - sent);
		n += nb;
	}
	return (double)n / ((double)(rte_get_tsc_cycles() - t0) / rte_get_tsc_hz());
}

static double
run_stun(uint16_t in, uint16_t out, double secs)
{
	static struct dp_lcore lc;
	struct dp_rxq q = {.port = in, .queue = 0, .out_port = DP_NO_PORT, .kind = DP_RXQ_WIRE};
	struct rte_mbuf *pkts[32];
	uint64_t end = rte_get_tsc_cycles() + (uint64_t)(secs * rte_get_tsc_hz());
	uint64_t t0 = rte_get_tsc_cycles();

	memset(&lc, 0, sizeof(lc));
	memset(lc.txb_of, -1, sizeof(lc.txb_of));
	lc.stun_enabled = true;
	lc.stun_port = 3478;
	/* answers go back "out of the same port": map it to the null port */
	lc.nb_txb = 1;
	lc.txb[0] = (struct dp_txbuf){.port = out, .queue = 0};
	lc.txb_of[in] = 0;
	while (rte_get_tsc_cycles() < end) {
		uint16_t nb = rte_eth_rx_burst(in, 0, pkts, 32);

		if (nb)
			dp_wire_handle(&lc, &q, pkts, nb);
		dp_wire_flush(&lc);
	}
	if (lc.cnt.stun_answered != lc.cnt.rx_pkts)
		fprintf(stderr, "warning: %llu of %llu frames not answered\n",
			(unsigned long long)(lc.cnt.rx_pkts - lc.cnt.stun_answered),
			(unsigned long long)lc.cnt.rx_pkts);
	return (double)lc.cnt.stun_answered /
	       ((double)(rte_get_tsc_cycles() - t0) / rte_get_tsc_hz());
}

int
main(int argc, char **argv)
{
	char vdev_in[512];
	char *eal[64];
	int n = 0;
	uint16_t in, out;
	double secs, echo, stun;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PCAP SECONDS [EAL args...]\n", argv[0]);
		return 2;
	}
	secs = atof(argv[2]);
	snprintf(vdev_in, sizeof(vdev_in), "--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1", argv[1]);
	eal[n++] = argv[0];
	eal[n++] = vdev_in;
	eal[n++] = "--vdev=net_null0";
	eal[n++] = "--no-pci";
	eal[n++] = "-l";
	eal[n++] = "0";
	eal[n++] = "--log-level=error";
	for (int i = 3; i < argc && n < 63; i++)
		eal[n++] = argv[i];
	eal[n] = NULL;
	if (rte_eal_init(n, eal) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("bench", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (!pool || rte_eth_dev_get_port_by_name("net_pcap0", &in) ||
	    rte_eth_dev_get_port_by_name("net_null0", &out) || port_up(in) || port_up(out))
		return 1;
	/* warm up both paths once, then measure */
	run_echo(in, out, 0.2);
	run_stun(in, out, 0.2);
	echo = run_echo(in, out, secs);
	stun = run_stun(in, out, secs);
	printf("echo_pps=%.0f stun_pps=%.0f ratio=%.3f\n", echo, stun, stun / echo);
	rte_eal_cleanup();
	return 0;
}
