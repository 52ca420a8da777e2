/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The port path of the poll loop on net_ring ports (EAL --no-huge): frames
 * in through a port's rx ring, exact replies and exception traffic out of
 * the tx rings, one counter per outcome, no mbuf leaked.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/wire.h"
#include "tests/lib/harness.h"
#include "tests/unit/dataplane/frames.h"

static struct rte_mempool *pool;
static struct rte_ring *wire_rx, *wire_tx, *kern_rx, *kern_tx;
static uint16_t wire, kern;
static struct dp_lcore *lc;

static const uint8_t cli[4] = {198, 18, 0, 2}, srv[4] = {198, 18, 0, 1};
static const uint8_t txid[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};

static int
port_up(uint16_t id)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(id, 1, 1, &conf) ||
	    rte_eth_rx_queue_setup(id, 0, 256, 0, NULL, pool) ||
	    rte_eth_tx_queue_setup(id, 0, 256, 0, NULL) || rte_eth_dev_start(id))
		return -1;
	return 0;
}

static int
init(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "128", "--no-shconf", "--no-pci",
			"-l", "0", "--log-level=error", NULL};
	int w, k;

	if (rte_eal_init(9, argv) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("w_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	wire_rx = rte_ring_create("w_rx", 4096, 0, 0);
	wire_tx = rte_ring_create("w_tx", 64, 0, RING_F_EXACT_SZ);
	kern_rx = rte_ring_create("k_rx", 4096, 0, 0);
	kern_tx = rte_ring_create("k_tx", 4096, 0, 0);
	if (!pool || !wire_rx || !wire_tx || !kern_rx || !kern_tx)
		return 1;
	w = rte_eth_from_rings("wire0", &wire_rx, 1, &wire_tx, 1, 0);
	k = rte_eth_from_rings("kern0", &kern_rx, 1, &kern_tx, 1, 0);
	if (w < 0 || k < 0)
		return 1;
	wire = (uint16_t)w;
	kern = (uint16_t)k;
	if (port_up(wire) || port_up(kern))
		return 1;
	lc = calloc(1, sizeof(*lc));
	lc->stun_enabled = true;
	lc->stun_port = 3478;
	memset(lc->txb_of, -1, sizeof(lc->txb_of));
	lc->nb_txb = 2;
	lc->txb[0] = (struct dp_txbuf){.port = wire, .queue = 0};
	lc->txb[1] = (struct dp_txbuf){.port = kern, .queue = 0};
	lc->txb_of[wire] = 0;
	lc->txb_of[kern] = 1;
	lc->nb_rxq = 2;
	lc->rxq[0] = (struct dp_rxq){.port = wire, .queue = 0, .out_port = kern, .kind = DP_RXQ_WIRE};
	lc->rxq[1] = (struct dp_rxq){.port = kern, .queue = 0, .out_port = wire, .kind = DP_RXQ_KERNEL};
	return 0;
}

static int
cleanup(void)
{
	rte_eth_dev_stop(wire);
	rte_eth_dev_stop(kern);
	rte_eal_cleanup();
	return 0;
}

static struct rte_mbuf *
mbuf_of(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	return m;
}

static void
inject(struct rte_ring *r, const uint8_t *f, size_t len)
{
	CU_ASSERT_EQUAL(rte_ring_enqueue(r, mbuf_of(f, len)), 0);
}

static size_t
stun_frame(uint8_t *f, const uint8_t *src, bool tailscale)
{
	uint8_t req[40];

	stun_build_tailscale_request(req, txid);
	if (!tailscale) {	/* a generic request: header only */
		req[3] = 0;
		return tf_build(f, 4, 0, src, srv, 40000, 3478, req, 20);
	}
	return tf_build(f, 4, 0, src, srv, 40000, 3478, req, 40);
}

static unsigned int
drain(struct rte_ring *r, struct rte_mbuf **out, unsigned int max)
{
	unsigned int n = 0;
	void *m;

	while (n < max && rte_ring_dequeue(r, &m) == 0)
		out[n++] = m;
	return n;
}

static void
free_all(struct rte_mbuf **m, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

static void
test_answer_in_place(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	struct rte_mbuf *out[8];
	uint8_t f[256], addr[16];
	uint16_t port;
	int fam;
	size_t len = stun_frame(f, cli, true);

	inject(wire_rx, f, len);
	CU_ASSERT_EQUAL(dp_wire_poll(lc), 1);
	CU_ASSERT_EQUAL_FATAL(drain(wire_tx, out, 8), 1);
	{
		uint8_t *r = rte_pktmbuf_mtod(out[0], uint8_t *);

		CU_ASSERT_EQUAL(out[0]->data_len, 14 + 20 + 8 + 32);
		CU_ASSERT(memcmp(r + 14 + 16, cli, 4) == 0);	/* to the client */
		CU_ASSERT(tf_checksums_ok(r, 4, 0));
		CU_ASSERT_EQUAL(stun_parse_response(r + 42, 32, txid, &fam, addr, &port), 0);
		CU_ASSERT(memcmp(addr, cli, 4) == 0);
		CU_ASSERT_EQUAL(port, 40000);
	}
	free_all(out, 1);
	CU_ASSERT_EQUAL(lc->cnt.stun_answered, 1);
	CU_ASSERT_EQUAL(lc->cnt.classes[DP_CR_STUN], 1);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

static void
test_drops_and_exception(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	struct rte_mbuf *out[8];
	uint8_t f[256], arp[60] = {0};
	size_t len = stun_frame(f, cli, true);

	f[len - 1] ^= 0xff;			/* bad FINGERPRINT ... */
	f[14 + 20 + 6] = f[14 + 20 + 7] = 0;	/* ...and no UDP checksum */
	inject(wire_rx, f, len);
	arp[12] = 0x08;
	arp[13] = 0x06;
	inject(wire_rx, arp, sizeof(arp));	/* ARP: the kernel's */
	inject(kern_rx, arp, sizeof(arp));	/* the kernel's answer */
	CU_ASSERT_EQUAL(dp_wire_poll(lc), 3);
	CU_ASSERT_EQUAL(lc->cnt.stun_drops[STUN_DROP_BAD_FINGERPRINT], 1);
	CU_ASSERT_EQUAL(lc->cnt.exc_in, 1);
	CU_ASSERT_EQUAL(lc->cnt.exc_out, 1);
	CU_ASSERT_EQUAL(drain(kern_tx, out, 8), 1);
	free_all(out, 1);
	CU_ASSERT_EQUAL(drain(wire_tx, out, 8), 1);
	free_all(out, 1);
	/* shared mode: what is not STUN stays with the kernel */
	lc->rxq[0].out_port = DP_NO_PORT;
	inject(wire_rx, arp, sizeof(arp));
	CU_ASSERT_EQUAL(dp_wire_poll(lc), 1);
	CU_ASSERT_EQUAL(lc->cnt.shared_other, 1);
	CU_ASSERT_EQUAL(drain(kern_tx, out, 8) + drain(wire_tx, out, 8), 0);
	lc->rxq[0].out_port = kern;
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

static void
test_tailscale_only_and_rate_limit(void)
{
	static struct dp_rl_slot slots[256];
	unsigned int base = rte_mempool_in_use_count(pool);
	struct rte_mbuf *out[16];
	uint8_t f[256];
	size_t len = stun_frame(f, cli, false);
	uint64_t answered = lc->cnt.stun_answered;

	lc->tailscale_only = true;
	inject(wire_rx, f, len);
	dp_wire_poll(lc);
	CU_ASSERT_EQUAL(lc->cnt.stun_drops[STUN_DROP_NOT_TAILSCALE], 1);
	lc->tailscale_only = false;
	inject(wire_rx, f, len);
	dp_wire_poll(lc);
	CU_ASSERT_EQUAL(lc->cnt.stun_answered, answered + 1);
	free_all(out, drain(wire_tx, out, 16));

	/* 2 per second, burst 2: five at once from one source, two answered */
	dp_ratelimit_init(&lc->rl, slots, 256, 2, 2, rte_get_tsc_hz());
	for (int i = 0; i < 5; i++)
		inject(wire_rx, f, len);
	dp_wire_poll(lc);
	CU_ASSERT_EQUAL(lc->cnt.stun_rate_limited, 3);
	CU_ASSERT_EQUAL(drain(wire_tx, out, 16), 2);
	free_all(out, 2);
	memset(&lc->rl, 0, sizeof(lc->rl));
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* 1000 frames of every kind: each counted once; full tx queue counted. */
static void
test_burst_accounting(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	struct dp_counters before = lc->cnt;
	struct rte_mbuf *out[4096];
	uint8_t f[256];
	uint64_t classes = 0, rx;
	unsigned int got;

	for (int i = 0; i < 1000; i++) {
		size_t len = stun_frame(f, cli, true);

		switch (i % 4) {
		case 1: f[14 + 9] = 6; break;			/* TCP */
		case 2: len -= 3; break;			/* truncated */
		case 3: f[len - 2] ^= 1; break;			/* bad UDP checksum */
		}
		inject(wire_rx, f, len);
	}
	while (dp_wire_poll(lc))
		;
	rx = lc->cnt.rx_pkts - before.rx_pkts;
	CU_ASSERT_EQUAL(rx, 1000);
	for (int r = 0; r < DP_CR_NB; r++)
		classes += lc->cnt.classes[r] - before.classes[r];
	CU_ASSERT_EQUAL(classes, 1000);
	/* 250 answers into a 63-slot tx ring that nobody drains */
	got = drain(wire_tx, out, 4096);
	CU_ASSERT_EQUAL(got + (lc->cnt.tx_dropped - before.tx_dropped), 250);
	CU_ASSERT(lc->cnt.tx_dropped > before.tx_dropped);
	free_all(out, got);
	got = drain(kern_tx, out, 4096);
	CU_ASSERT_EQUAL(got, lc->cnt.exc_in - before.exc_in);
	free_all(out, got);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

static CU_TestInfo tests[] = {
	{"STUN answered in place", test_answer_in_place},
	{"drops and the exception path", test_drops_and_exception},
	{"tailscale_only and per-source limit", test_tailscale_only_and_rate_limit},
	{"every frame counted once, no leak", test_burst_accounting},
	CU_TEST_INFO_NULL,
};

int
main(void)
{
	return harness_run("dataplane/wire", tests, init, cleanup);
}
