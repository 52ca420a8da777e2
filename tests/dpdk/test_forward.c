/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarding lcore's message handling under a real EAL (--no-huge),
 * with real rings and a real mempool: every message in, the exact
 * messages out, one counter per drop, and no mbuf leaked.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/dataplane.h"
#include "dataplane/forward.h"
#include "dataplane/test_hooks.h"
#include "dataplane/lcore.h"
#include "dataplane/main_loop.h"
#include "dataplane/ring_msg.h"
#include "tests/lib/harness.h"

#include <sys/eventfd.h>
#include <unistd.h>

static struct rte_mempool *pool;
static struct dp_session_table table;
static struct dp_lcore *lc;
static struct dp_wake tls_wake[3];

enum { NB_EP = 3, LINK_EP = 2 };	/* TLS threads 0, 1; mesh link 0 */

static int
init(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "128", "--no-shconf", "--no-pci",
			"-l", "0,1", "--log-level=error", NULL};

	if (rte_eal_init(9, argv) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("t_pool", 4095, 0,
				       RTE_ALIGN(sizeof(struct dp_msg), RTE_MBUF_PRIV_ALIGN),
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!pool)
		return 1;
	if (dp_session_table_init(&table, "t_table", 16, SOCKET_ID_ANY))
		return 1;
	lc = calloc(1, sizeof(*lc));
	lc->forwarder = true;
	lc->pool = pool;
	lc->table = &table;
	lc->nb_tls = 2;
	lc->nb_ep = NB_EP;
	lc->wake.efd = eventfd(0, EFD_NONBLOCK);
	for (int t = 0; t < NB_EP; t++) {
		char name[32];

		snprintf(name, sizeof(name), "t_rx%d", t);
		lc->tls[t].rx = rte_ring_create(name, 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "t_tx%d", t);
		lc->tls[t].tx = rte_ring_create(name, 16, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		tls_wake[t].efd = eventfd(0, EFD_NONBLOCK);
		lc->tls[t].wake = &tls_wake[t];
	}
	return 0;
}

static int
cleanup(void)
{
	dp_session_table_uninit(&table);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

static void
key(uint8_t k[32], uint8_t v)
{
	memset(k, v, 32);
}

static struct rte_mbuf *
msg(uint8_t type, uint16_t tls, uint32_t id, uint32_t gen, uint8_t k, uint8_t src, uint8_t flags)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct dp_msg *d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	d = dp_msg(m);
	memset(d, 0, sizeof(*d));
	d->type = type;
	d->tls = tls;
	d->id = id;
	d->gen = gen;
	d->flags = flags;
	key(d->key, k);
	key(d->src, src);
	return m;
}

static void
run(struct rte_mbuf *m)
{
	dp_forward_burst(lc, &m, 1);
	dp_forward_flush(lc);
}

/* Next message on TLS thread t's ring, or NULL. */
static struct rte_mbuf *
out(unsigned int t)
{
	void *m = NULL;

	return rte_ring_sc_dequeue(lc->tls[t].tx, &m) == 0 ? m : NULL;
}

/* Every thread reads its ring until nothing is left, held-back messages
 * included (freed unread). */
static void
settle(void)
{
	struct rte_mbuf *m;
	bool more = true;

	while (more) {
		more = false;
		for (unsigned int t = 0; t < NB_EP; t++)
			while ((m = out(t))) {
				rte_pktmbuf_free(m);
				more = true;
			}
		dp_forward_poll(lc);
		for (unsigned int t = 0; t < NB_EP; t++)
			more |= rte_ring_count(lc->tls[t].tx) > 0;
	}
}

static void
expect(unsigned int t, uint8_t type, uint32_t id, uint8_t flags)
{
	struct rte_mbuf *m = out(t);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(dp_msg(m)->type, type);
	CU_ASSERT_EQUAL(dp_msg(m)->id, id);
	CU_ASSERT_EQUAL(dp_msg(m)->flags, flags);
	rte_pktmbuf_free(m);
}

static void
expect_empty(void)
{
	CU_ASSERT_PTR_NULL(out(0));
	CU_ASSERT_PTR_NULL(out(1));
	CU_ASSERT_PTR_NULL(out(LINK_EP));
}

static void
drain_all(void)
{
	struct rte_mbuf *m;

	for (unsigned int t = 0; t < NB_EP; t++)
		while ((m = out(t)))
			rte_pktmbuf_free(m);
}

/* A message from mesh link `link` (its thread's ring endpoint). */
static struct rte_mbuf *
link_msg(uint8_t type, uint16_t link, uint8_t k)
{
	struct rte_mbuf *m = msg(type, LINK_EP, 0, 0, k, 0, 0);

	dp_msg(m)->port = link;
	return m;
}

/* Expect a message of `type` about key byte k on endpoint t. */
static void
expect_key(unsigned int t, uint8_t type, uint8_t k)
{
	struct rte_mbuf *m = out(t);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(dp_msg(m)->type, type);
	CU_ASSERT_EQUAL(dp_msg(m)->key[0], k);
	rte_pktmbuf_free(m);
}

static void
test_route_and_gone(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	struct rte_mbuf *m;
	uint64_t fwd = lc->cnt.forwarded;

	run(msg(DP_MSG_SESSION_UP, 0, 1, 1, 0xa, 0, DP_SESS_REGULAR));
	run(msg(DP_MSG_SESSION_UP, 1, 7, 3, 0xb, 0, DP_SESS_REGULAR));
	expect_empty();		/* single connections say nothing */

	/* A -> B: delivered to TLS thread 1, session 7 gen 3, src = A */
	m = msg(DP_MSG_SEND, 0, 1, 1, 0xb, 0xa, 0);
	memcpy(rte_pktmbuf_append(m, 5), "hello", 5);
	run(m);
	m = out(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_DELIVER);
	CU_ASSERT_EQUAL(dp_msg(m)->tls, 1);
	CU_ASSERT_EQUAL(dp_msg(m)->id, 7);
	CU_ASSERT_EQUAL(dp_msg(m)->gen, 3);
	CU_ASSERT_EQUAL(dp_msg(m)->src[0], 0xa);
	CU_ASSERT(memcmp(rte_pktmbuf_mtod(m, void *), "hello", 5) == 0);
	rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL(lc->cnt.forwarded, fwd + 1);

	/* unknown destination: plain packets vanish, disco gets NotHere */
	{
		uint64_t unknown = lc->cnt.drops[DP_DROP_UNKNOWN_DEST];

		run(msg(DP_MSG_SEND, 0, 1, 1, 0xc, 0xa, 0));
		expect_empty();
		run(msg(DP_MSG_SEND, 0, 1, 1, 0xc, 0xa, DP_PKT_DISCO));
		m = out(0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_PEER_GONE);
		CU_ASSERT_EQUAL(dp_msg(m)->flags, DP_GONE_NOT_HERE);
		CU_ASSERT_EQUAL(dp_msg(m)->key[0], 0xc);
		CU_ASSERT_EQUAL(dp_msg(m)->id, 1);
		rte_pktmbuf_free(m);
		CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_UNKNOWN_DEST], unknown + 2);
	}

	/* B leaves: both TLS threads are told, for their listeners */
	run(msg(DP_MSG_SESSION_DOWN, 1, 7, 3, 0xb, 0, 0));
	expect(0, DP_MSG_PEER_GONE_ALL, 0, DP_GONE_DISCONNECTED);
	expect(1, DP_MSG_PEER_GONE_ALL, 0, DP_GONE_DISCONNECTED);
	/* a stale or repeated down is counted, changes nothing */
	run(msg(DP_MSG_SESSION_DOWN, 1, 7, 3, 0xb, 0, 0));
	CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_STALE_SESSION], 1);
	expect_empty();
	run(msg(DP_MSG_SESSION_DOWN, 0, 1, 1, 0xa, 0, 0));
	expect(0, DP_MSG_PEER_GONE_ALL, 0, 0);
	expect(1, DP_MSG_PEER_GONE_ALL, 0, 0);
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

static void
test_duplicates(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	struct rte_mbuf *m;

	run(msg(DP_MSG_SESSION_UP, 0, 1, 1, 0xb, 0, DP_SESS_REGULAR));	/* B1 */
	run(msg(DP_MSG_SESSION_UP, 1, 2, 1, 0xb, 0, DP_SESS_REGULAR));	/* B2 */
	expect(1, DP_MSG_DUP, 2, DP_DUP_SET | DP_DUP_ACTIVE);
	expect(0, DP_MSG_DUP, 1, DP_DUP_SET);
	run(msg(DP_MSG_SEND, 0, 9, 1, 0xb, 0xa, 0));
	m = out(1);
	CU_ASSERT_EQUAL(dp_msg(m)->id, 2);		/* newest gets it */
	rte_pktmbuf_free(m);
	/* B1 speaks */
	run(msg(DP_MSG_ACTIVE, 0, 1, 1, 0xb, 0, 0));
	expect(0, DP_MSG_DUP, 1, DP_DUP_SET | DP_DUP_ACTIVE);
	expect(1, DP_MSG_DUP, 2, DP_DUP_SET);
	run(msg(DP_MSG_SEND, 0, 9, 1, 0xb, 0xa, 0));
	m = out(0);
	CU_ASSERT_EQUAL(dp_msg(m)->id, 1);
	rte_pktmbuf_free(m);
	/* B1 leaves: B2 is alone again, active, no PeerGone for B */
	run(msg(DP_MSG_SESSION_DOWN, 0, 1, 1, 0xb, 0, 0));
	expect(1, DP_MSG_DUP, 2, DP_DUP_ACTIVE);
	expect_empty();
	/* five connections: the least recent is closed */
	for (uint32_t i = 10; i < 14; i++)
		run(msg(DP_MSG_SESSION_UP, 0, i, 1, 0xb, 0, DP_SESS_REGULAR));
	while ((m = out(0)))
		rte_pktmbuf_free(m);
	while ((m = out(1))) {
		if (dp_msg(m)->type == DP_MSG_CLOSE) {
			CU_ASSERT_EQUAL(dp_msg(m)->id, 2);
			CU_ASSERT_EQUAL(dp_msg(m)->flags, DP_CLOSE_TOO_MANY_DUPS);
		}
		rte_pktmbuf_free(m);
	}
	for (uint32_t i = 10; i < 14; i++)
		run(msg(DP_MSG_SESSION_DOWN, 0, i, 1, 0xb, 0, 0));
	while ((m = out(0)))
		rte_pktmbuf_free(m);
	while ((m = out(1)))
		rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* A full dp->tls ring drops packets but keeps control messages, in order,
 * for when the thread has caught up; the backlog is bounded. */
static void
test_control_never_dropped_on_full_ring(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	uint64_t ring = lc->cnt.drops[DP_DROP_RING_FULL];
	uint64_t bl = lc->cnt.drops[DP_DROP_BACKLOG_FULL];
	struct rte_mbuf *m, *batch[2];

	settle();
	/* key 0x40 on TLS thread 0; fill thread 0's 15-entry ring */
	run(msg(DP_MSG_SESSION_UP, 0, 1, 1, 0x40, 0, DP_SESS_REGULAR));
	for (int i = 0; i < 15; i++)
		run(msg(DP_MSG_SEND, 1, 5, 1, 0x40, 0x41, 0));
	CU_ASSERT_EQUAL(rte_ring_count(lc->tls[0].tx), 15);
	/* a duplicate connection for 0x40 on thread 0: DUP notices must wait;
	 * packets behind them are dropped */
	batch[0] = msg(DP_MSG_SESSION_UP, 0, 2, 1, 0x40, 0, DP_SESS_REGULAR);
	batch[1] = msg(DP_MSG_SEND, 1, 5, 1, 0x40, 0x41, 0);
	dp_forward_burst(lc, batch, 2);
	dp_forward_flush(lc);
	CU_ASSERT(lc->tls[0].nb_backlog >= 1);
	CU_ASSERT_EQUAL(lc->nb_backlogged, 1);
	CU_ASSERT(!dp_forward_idle(lc));	/* it keeps trying */
	CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_RING_FULL], ring + 1);
	/* the thread drains its ring; the next pass sends the backlog */
	for (int i = 0; i < 15; i++)
		expect(0, DP_MSG_DELIVER, 1, 0);
	dp_forward_poll(lc);
	CU_ASSERT_EQUAL(lc->tls[0].nb_backlog, 0);
	CU_ASSERT_EQUAL(lc->nb_backlogged, 0);
	m = out(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_DUP);
	rte_pktmbuf_free(m);
	while ((m = out(0))) {
		CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_DUP);
		rte_pktmbuf_free(m);
	}
	/* bounded: with the ring full, at most DP_BACKLOG notices wait */
	for (int i = 0; i < 15; i++)
		run(msg(DP_MSG_SEND, 1, 5, 1, 0x40, 0x41, 0));
	for (int i = 0; i < DP_BACKLOG + 3; i++) {
		struct rte_mbuf *c = msg(DP_MSG_SESSION_UP, 0, 3, 1, 0x40, 0, DP_SESS_REGULAR);

		run(c);
		run(msg(DP_MSG_SESSION_DOWN, 0, 3, 1, 0x40, 0, 0));
	}
	CU_ASSERT_EQUAL(lc->tls[0].nb_backlog, DP_BACKLOG);
	CU_ASSERT(lc->cnt.drops[DP_DROP_BACKLOG_FULL] > bl);
	/* everything drains once the thread reads again */
	settle();
	CU_ASSERT_EQUAL(lc->nb_backlogged, 0);
	run(msg(DP_MSG_SESSION_DOWN, 0, 2, 1, 0x40, 0, 0));
	run(msg(DP_MSG_SESSION_DOWN, 0, 1, 1, 0x40, 0, 0));
	settle();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

static void
test_table_full_and_ring_full(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	uint64_t full = lc->cnt.drops[DP_DROP_TABLE_FULL];
	uint64_t ring = lc->cnt.drops[DP_DROP_RING_FULL];
	struct rte_mbuf *m;

	for (uint32_t i = 0; i < 16; i++)
		run(msg(DP_MSG_SESSION_UP, 0, i, 1, (uint8_t)(0x40 + i), 0, DP_SESS_REGULAR));
	run(msg(DP_MSG_SESSION_UP, 0, 99, 1, 0x90, 0, DP_SESS_REGULAR));
	expect(0, DP_MSG_CLOSE, 99, DP_CLOSE_TABLE_FULL);
	CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_TABLE_FULL], full + 1);
	/* 20 deliveries into a 16-slot ring: the excess is dropped and counted */
	for (int i = 0; i < 20; i++)
		run(msg(DP_MSG_SEND, 1, 5, 1, 0x40, 0x41, 0));
	CU_ASSERT_EQUAL(rte_ring_count(lc->tls[0].tx), 15);
	CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_RING_FULL], ring + 5);
	while ((m = out(0)))
		rte_pktmbuf_free(m);
	for (uint32_t i = 0; i < 16; i++)
		run(msg(DP_MSG_SESSION_DOWN, 0, i, 1, (uint8_t)(0x40 + i), 0, 0));
	settle();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

static void
test_bad_message(void)
{
	uint64_t bad = lc->cnt.drops[DP_DROP_BAD_MSG];
	unsigned int base = rte_mempool_in_use_count(pool);

	run(msg(0x77, 0, 1, 1, 1, 1, 0));
	run(msg(DP_MSG_SEND, 0, 1, 1, 0x55, 0, 0));
	CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_BAD_MSG], bad + 1);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* WatchConns: a dump of every local key (the watcher included), with the
 * address and flags of the active connection, then one PeerPresent per
 * registration and one PeerGone per last unregistration. */
static void
test_watch(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	struct rte_mbuf *m;
	struct dp_msg *d;
	bool seen[3] = {false};

	/* W: the mesh peer's session on TLS thread 0 */
	m = msg(DP_MSG_SESSION_UP, 0, 50, 1, 0x77, 0, DP_SESS_MESH);
	dp_msg(m)->port = 4242;
	dp_msg(m)->ip[10] = dp_msg(m)->ip[11] = 0xff;
	dp_msg(m)->ip[12] = 198;
	run(m);
	run(msg(DP_MSG_SESSION_UP, 1, 1, 1, 0xa, 0, DP_SESS_PROBER));
	expect_empty();
	/* a small table is dumped at once, ahead of later messages */
	run(msg(DP_MSG_WATCH, 0, 50, 1, 0x77, 0, 0));
	CU_ASSERT(dp_forward_idle(lc));
	for (int i = 0; i < 2; i++) {
		m = out(0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		d = dp_msg(m);
		CU_ASSERT_EQUAL(d->type, DP_MSG_PEER_PRESENT);
		CU_ASSERT_EQUAL(d->id, 50);	/* to the watcher */
		if (d->key[0] == 0x77) {
			CU_ASSERT_EQUAL(d->flags, DP_SESS_MESH);
			CU_ASSERT_EQUAL(d->port, 4242);
			CU_ASSERT_EQUAL(d->ip[12], 198);
			seen[0] = true;
		} else if (d->key[0] == 0xa) {
			CU_ASSERT_EQUAL(d->flags, DP_SESS_PROBER);
			seen[1] = true;
		}
		rte_pktmbuf_free(m);
	}
	CU_ASSERT(seen[0] && seen[1]);
	expect_empty();
	/* a new connection, a duplicate too: PeerPresent each */
	run(msg(DP_MSG_SESSION_UP, 1, 2, 1, 0xb, 0, DP_SESS_REGULAR));
	expect_key(0, DP_MSG_PEER_PRESENT, 0xb);
	run(msg(DP_MSG_SESSION_UP, 1, 3, 1, 0xb, 0, DP_SESS_REGULAR));
	expect_key(0, DP_MSG_PEER_PRESENT, 0xb);
	drain_all();		/* duplicate-state notices */
	/* a duplicate leaving says nothing to watchers; the last one does */
	run(msg(DP_MSG_SESSION_DOWN, 1, 3, 1, 0xb, 0, 0));
	CU_ASSERT_PTR_NULL(out(0));
	drain_all();
	run(msg(DP_MSG_SESSION_DOWN, 1, 2, 1, 0xb, 0, 0));
	expect_key(0, DP_MSG_WATCH_GONE, 0xb);
	expect_key(0, DP_MSG_PEER_GONE_ALL, 0xb);
	expect_key(1, DP_MSG_PEER_GONE_ALL, 0xb);
	expect_empty();
	/* the watcher leaves: no more updates for it */
	run(msg(DP_MSG_SESSION_DOWN, 0, 50, 1, 0x77, 0, 0));
	CU_ASSERT_EQUAL(lc->nb_watch, 0);
	drain_all();
	run(msg(DP_MSG_SESSION_UP, 1, 4, 1, 0xc, 0, DP_SESS_REGULAR));
	expect_empty();
	run(msg(DP_MSG_SESSION_DOWN, 1, 4, 1, 0xc, 0, 0));
	run(msg(DP_MSG_SESSION_DOWN, 1, 1, 1, 0xa, 0, 0));
	drain_all();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* A dump never fills more than half the watcher's ring: 12 keys through a
 * 16-slot ring arrive over several loop iterations, none dropped. */
static void
test_watch_dump_paced(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	uint64_t ring_full = lc->cnt.drops[DP_DROP_RING_FULL];
	unsigned int got = 0, rounds = 0;
	struct rte_mbuf *m;

	for (uint32_t i = 0; i < 12; i++)
		run(msg(DP_MSG_SESSION_UP, 0, i, 1, (uint8_t)(0x20 + i), 0, DP_SESS_REGULAR));
	run(msg(DP_MSG_WATCH, 1, 60, 1, 0x99, 0, 0));
	while (!dp_forward_idle(lc) && rounds++ < 100) {
		dp_forward_poll(lc);
		CU_ASSERT(rte_ring_count(lc->tls[1].tx) <= 8);
		while ((m = out(1))) {
			CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_PEER_PRESENT);
			got++;
			rte_pktmbuf_free(m);
		}
	}
	CU_ASSERT_EQUAL(got, 12);
	CU_ASSERT(rounds > 1);
	CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_RING_FULL], ring_full);
	/* the watcher was never registered as a session: drop it by hand */
	lc->watch[0].used = false;
	lc->nb_watch = 0;
	for (uint32_t i = 0; i < 12; i++)
		run(msg(DP_MSG_SESSION_DOWN, 0, i, 1, (uint8_t)(0x20 + i), 0, 0));
	drain_all();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* Keys announced by a mesh link: packets for them go to the link's thread
 * as ForwardPacket; local wins; forwarded packets are never forwarded
 * again; the key leaves the region when neither remains. */
static void
test_mesh_forward(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	uint64_t on_fwd = lc->cnt.drops[DP_DROP_UNKNOWN_DEST_ON_FWD];
	struct rte_mbuf *m;

	run(msg(DP_MSG_SESSION_UP, 0, 1, 1, 0xa, 0, DP_SESS_REGULAR));
	run(link_msg(DP_MSG_FWD_ADD, 0, 0xe));
	expect_empty();
	m = msg(DP_MSG_SEND, 0, 1, 1, 0xe, 0xa, 0);
	memcpy(rte_pktmbuf_append(m, 3), "abc", 3);
	run(m);
	m = out(LINK_EP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_FORWARD);
	CU_ASSERT_EQUAL(dp_msg(m)->port, 0);
	CU_ASSERT_EQUAL(dp_msg(m)->key[0], 0xe);
	CU_ASSERT_EQUAL(dp_msg(m)->src[0], 0xa);
	CU_ASSERT_EQUAL(rte_pktmbuf_pkt_len(m), 3);
	rte_pktmbuf_free(m);
	/* a ForwardPacket from a mesh peer to a non-local key: dropped,
	 * disco gets NotHere back to that peer's session */
	run(msg(DP_MSG_SEND, 1, 9, 1, 0xe, 0xf, DP_PKT_FORWARDED));
	CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_UNKNOWN_DEST_ON_FWD], on_fwd + 1);
	expect_empty();
	run(msg(DP_MSG_SEND, 1, 9, 1, 0xe, 0xf, DP_PKT_FORWARDED | DP_PKT_DISCO));
	m = out(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_PEER_GONE);
	CU_ASSERT_EQUAL(dp_msg(m)->flags, DP_GONE_NOT_HERE);
	CU_ASSERT_EQUAL(dp_msg(m)->id, 9);
	rte_pktmbuf_free(m);
	/* ... but delivered when the key is local */
	run(msg(DP_MSG_SEND, 1, 9, 1, 0xa, 0xf, DP_PKT_FORWARDED));
	m = out(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_DELIVER);
	CU_ASSERT_EQUAL(dp_msg(m)->src[0], 0xf);
	rte_pktmbuf_free(m);
	/* E connects here too: local wins over the link */
	run(msg(DP_MSG_SESSION_UP, 1, 5, 1, 0xe, 0, DP_SESS_REGULAR));
	run(msg(DP_MSG_SEND, 0, 1, 1, 0xe, 0xa, 0));
	expect(1, DP_MSG_DELIVER, 5, 0);
	/* E leaves here but is still behind the link: not gone */
	run(msg(DP_MSG_SESSION_DOWN, 1, 5, 1, 0xe, 0, 0));
	expect_empty();
	run(msg(DP_MSG_SEND, 0, 1, 1, 0xe, 0xa, 0));
	expect_key(LINK_EP, DP_MSG_FORWARD, 0xe);
	/* the link withdraws it: gone from the region */
	run(link_msg(DP_MSG_FWD_DEL, 0, 0xe));
	expect_key(0, DP_MSG_PEER_GONE_ALL, 0xe);
	expect_key(1, DP_MSG_PEER_GONE_ALL, 0xe);
	/* a withdrawal of something never announced changes nothing */
	run(link_msg(DP_MSG_FWD_DEL, 0, 0xe));
	expect_empty();
	run(msg(DP_MSG_SESSION_DOWN, 0, 1, 1, 0xa, 0, 0));
	drain_all();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* The idle policy's crowd (dataplane/spin_gate.h) counts every packet's
 * receiver: a local ping-pong is two, ten keys behind a mesh link are ten
 * (one link, but ten flows the spin would not help); and its stream rule
 * every packet's sender. */
static void
test_crowd_counts_receivers(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);

	run(msg(DP_MSG_SESSION_UP, 0, 1, 1, 0xa, 0, DP_SESS_REGULAR));
	run(msg(DP_MSG_SESSION_UP, 1, 2, 1, 0xb, 0, DP_SESS_REGULAR));
	for (uint8_t k = 0x10; k < 0x1a; k++)
		run(link_msg(DP_MSG_FWD_ADD, 0, k));
	drain_all();
	/* a fresh window (the tests before forwarded one way) */
	CU_ASSERT_FALSE(dp_spin_gate_tick(&lc->gate, 1) & DP_SPIN_GATE_NEW_CROWD);
	for (int i = 0; i < 50; i++) {
		run(msg(DP_MSG_SEND, 0, 1, 1, 0xb, 0xa, 0));
		run(msg(DP_MSG_SEND, 1, 2, 1, 0xa, 0xb, 0));
		drain_all();
	}
	CU_ASSERT_FALSE(dp_spin_gate_tick(&lc->gate, 2));
	CU_ASSERT(dp_spin_gate_open(&lc->gate, 2));
	for (uint8_t k = 0x10; k < 0x1a; k++)
		run(msg(DP_MSG_SEND, 0, 1, 1, k, 0xa, 0));
	drain_all();
	CU_ASSERT(dp_spin_gate_tick(&lc->gate, 3));
	CU_ASSERT_FALSE(dp_spin_gate_open(&lc->gate, 3));
	CU_ASSERT_FALSE(dp_spin_gate_tick(&lc->gate, 4));	/* an empty window */
	CU_ASSERT(dp_spin_gate_open(&lc->gate, 4));
	/* and the senders: a ping-pong is all answers, twenty packets from
	 * a to b none, a one-way stream */
	for (int i = 0; i < 20; i++) {
		run(msg(DP_MSG_SEND, 0, 1, 1, 0xb, 0xa, 0));
		run(msg(DP_MSG_SEND, 1, 2, 1, 0xa, 0xb, 0));
	}
	drain_all();
	CU_ASSERT_EQUAL(dp_spin_gate_tick(&lc->gate, 5), 0);
	CU_ASSERT(dp_spin_gate_open(&lc->gate, 5));
	for (int i = 0; i < 20; i++)
		run(msg(DP_MSG_SEND, 0, 1, 1, 0xb, 0xa, 0));
	drain_all();
	CU_ASSERT_EQUAL(dp_spin_gate_tick(&lc->gate, 6), DP_SPIN_GATE_NEW_STREAM);
	CU_ASSERT_FALSE(dp_spin_gate_open(&lc->gate, 6));
	for (uint8_t k = 0x10; k < 0x1a; k++)
		run(link_msg(DP_MSG_FWD_DEL, 0, k));
	run(msg(DP_MSG_SESSION_DOWN, 0, 1, 1, 0xa, 0, 0));
	run(msg(DP_MSG_SESSION_DOWN, 1, 2, 1, 0xb, 0, 0));
	drain_all();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* A link drops: every key it alone knew leaves the region; a key that is
 * also local stays, silently. */
static void
test_mesh_link_down(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	uint64_t bad = lc->cnt.drops[DP_DROP_BAD_MSG];
	unsigned int gone = 0;
	struct rte_mbuf *m;

	run(msg(DP_MSG_SESSION_UP, 0, 1, 1, 0xa, 0, DP_SESS_REGULAR));
	run(link_msg(DP_MSG_FWD_ADD, 0, 0xa));
	run(link_msg(DP_MSG_FWD_ADD, 0, 0xb));
	run(link_msg(DP_MSG_FWD_ADD, 0, 0xc));
	CU_ASSERT_EQUAL(table.nb_keys, 3);
	run(link_msg(DP_MSG_FWD_ADD, 7, 0xd));	/* no such link */
	CU_ASSERT_EQUAL(lc->cnt.drops[DP_DROP_BAD_MSG], bad + 1);
	run(link_msg(DP_MSG_LINK_DOWN, 0, 0));
	while ((m = out(0))) {
		CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_PEER_GONE_ALL);
		CU_ASSERT(dp_msg(m)->key[0] == 0xb || dp_msg(m)->key[0] == 0xc);
		gone++;
		rte_pktmbuf_free(m);
	}
	CU_ASSERT_EQUAL(gone, 2);
	drain_all();
	CU_ASSERT_EQUAL(table.nb_keys, 1);
	run(msg(DP_MSG_SESSION_DOWN, 0, 1, 1, 0xa, 0, 0));
	drain_all();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* ClosePeer(B) closes every connection of B; an unknown key is counted. */
static void
test_close_peer(void)
{
	unsigned int base = rte_mempool_in_use_count(pool);
	uint64_t unknown = lc->cnt.mesh_close_unknown;
	unsigned int closes = 0;
	struct rte_mbuf *m;

	run(msg(DP_MSG_SESSION_UP, 0, 1, 1, 0xb, 0, DP_SESS_REGULAR));
	run(msg(DP_MSG_SESSION_UP, 1, 2, 1, 0xb, 0, DP_SESS_REGULAR));
	drain_all();
	run(msg(DP_MSG_CLOSE_PEER, 1, 9, 1, 0xb, 0, 0));
	for (unsigned int t = 0; t < 2; t++) {
		while ((m = out(t))) {
			CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_CLOSE);
			CU_ASSERT_EQUAL(dp_msg(m)->flags, DP_CLOSE_PEER);
			CU_ASSERT_EQUAL(dp_msg(m)->id, t + 1);
			closes++;
			rte_pktmbuf_free(m);
		}
	}
	CU_ASSERT_EQUAL(closes, 2);
	run(msg(DP_MSG_CLOSE_PEER, 1, 9, 1, 0x5e, 0, 0));
	expect_empty();
	CU_ASSERT_EQUAL(lc->cnt.mesh_close_unknown, unknown + 1);
	run(msg(DP_MSG_SESSION_DOWN, 0, 1, 1, 0xb, 0, 0));
	run(msg(DP_MSG_SESSION_DOWN, 1, 2, 1, 0xb, 0, 0));
	drain_all();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* Inline forwarding (dataplane/dataplane.h): the TLS thread's own turns
 * run the forwarder. What a ring holds shows as work waiting and is
 * routed by the caller; after a turn the lcore's idle policy decides
 * between polling again and sleeping, crowd rule included. */
static void
test_inline(void)
{
	uint64_t hz = rte_get_tsc_hz(), now, crowded = lc->cnt.spin_crowded;
	uint64_t sleeps = lc->cnt.sleeps;
	unsigned int base = rte_mempool_in_use_count(pool);

	dp_spin_gate_init(&lc->gate, hz / 1000000 * 32, hz / 200, hz / 20, hz / 1000, hz / 100);
	lc->spin_tsc = hz / 1000000 * 50;
	CU_ASSERT_PTR_EQUAL(dp_inline_wake(lc), &lc->wake);
	CU_ASSERT_FALSE(dp_inline_busy(lc));
	CU_ASSERT_EQUAL(dp_inline_run(lc), 0);
	run(msg(DP_MSG_SESSION_UP, 0, 1, 1, 0xa, 0, DP_SESS_REGULAR));
	for (uint8_t k = 0x10; k < 0x1a; k++)
		run(msg(DP_MSG_SESSION_UP, 1, k, 1, k, 0, DP_SESS_REGULAR));
	drain_all();
	/* ten receivers in the gate's first window: a crowd */
	for (uint8_t k = 0x10; k < 0x1a; k++)
		CU_ASSERT_EQUAL(rte_ring_sp_enqueue(lc->tls[0].rx, msg(DP_MSG_SEND, 0, 1, 1, k, 0xa, 0)), 0);
	CU_ASSERT(dp_inline_busy(lc));
	CU_ASSERT_EQUAL(dp_inline_run(lc), 10);
	CU_ASSERT_FALSE(dp_inline_busy(lc));
	for (uint8_t k = 0x10; k < 0x1a; k++)
		expect(1, DP_MSG_DELIVER, k, 0);
	expect_empty();
	/* right after work, but a crowd: sleep */
	CU_ASSERT_FALSE(dp_inline_spin(lc, rte_get_tsc_cycles()));
	CU_ASSERT_EQUAL(lc->cnt.spin_crowded, crowded + 1);
	/* a quiet sleep (2 ms) ends the verdict: spin while work is recent */
	now = rte_get_tsc_cycles();
	dp_inline_slept(lc, now, now + hz / 500);
	CU_ASSERT_EQUAL(lc->cnt.sleeps, sleeps + 1);
	CU_ASSERT(dp_inline_spin(lc, rte_get_tsc_cycles()));
	CU_ASSERT_FALSE(dp_inline_spin(lc, rte_get_tsc_cycles() - 2 * lc->spin_tsc));
	/* a ring fuller than one pass is still emptied by one run */
	for (unsigned int i = 0; i < 48; i++)
		CU_ASSERT_EQUAL(rte_ring_sp_enqueue(lc->tls[0].rx, msg(DP_MSG_SEND, 0, 1, 1, 0x10, 0xa, 0)), 0);
	CU_ASSERT_EQUAL(dp_inline_run(lc), 48);
	CU_ASSERT_FALSE(dp_inline_busy(lc));
	drain_all();
	run(msg(DP_MSG_SESSION_DOWN, 0, 1, 1, 0xa, 0, 0));
	for (uint8_t k = 0x10; k < 0x1a; k++)
		run(msg(DP_MSG_SESSION_DOWN, 1, k, 1, k, 0, 0));
	drain_all();
	CU_ASSERT_EQUAL(table.nb_keys, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* The poll loop on its own lcore: asleep in adaptive mode, woken by a
 * kick, it routes the message; quit stops it. */
static void
test_main_loop_wakeup(void)
{
	struct rte_mbuf *m;
	unsigned int lcore = rte_get_next_lcore(-1, 1, 0);
	int spins = 0;

	lc->adaptive = true;
	lc->spin_tsc = 0;
	lc->nap_ns = 1000000000ULL;
	lc->nap_fds[0] = (struct pollfd){.fd = lc->wake.efd, .events = POLLIN};
	lc->nb_nap_fds = 1;
	atomic_store(&lc->quit, 0);
	CU_ASSERT_EQUAL_FATAL(rte_eal_remote_launch(dp_main_loop, lc, lcore), 0);
	/* wait until it sleeps */
	while (__atomic_load_n(&lc->cnt.sleeps, __ATOMIC_RELAXED) == 0 && spins++ < 5000000)
		rte_pause();
	CU_ASSERT(lc->cnt.sleeps > 0);
	run(msg(DP_MSG_SESSION_UP, 1, 3, 1, 0x33, 0, DP_SESS_REGULAR));	/* direct, for the table */
	m = msg(DP_MSG_SEND, 0, 1, 1, 0x33, 0x11, 0);
	CU_ASSERT_EQUAL(rte_ring_sp_enqueue(lc->tls[0].rx, m), 0);
	dp_wake_kick(&lc->wake);
	for (spins = 0; !(m = out(1)) && spins < 50000000; spins++)
		rte_pause();
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(dp_msg(m)->type, DP_MSG_DELIVER);
	rte_pktmbuf_free(m);
	atomic_store(&lc->quit, 1);
	dp_wake_kick(&lc->wake);
	CU_ASSERT_EQUAL(rte_eal_wait_lcore(lcore), 0);
	run(msg(DP_MSG_SESSION_DOWN, 1, 3, 1, 0x33, 0, 0));
	while ((m = out(0)))
		rte_pktmbuf_free(m);
	while ((m = out(1)))
		rte_pktmbuf_free(m);
}

static CU_TestInfo tests[] = {
	{"route, NotHere, session down", test_route_and_gone},
	{"duplicate connections", test_duplicates},
	{"table full, ring full", test_table_full_and_ring_full},
	{"control messages wait in a bounded backlog, packets drop", test_control_never_dropped_on_full_ring},
	{"bad message", test_bad_message},
	{"mesh: WatchConns dump and updates", test_watch},
	{"mesh: dump paced by ring room", test_watch_dump_paced},
	{"mesh: forward over a link, local wins", test_mesh_forward},
	{"mesh: link down forgets its keys", test_mesh_link_down},
	{"mesh: ClosePeer", test_close_peer},
	{"the idle policy counts receivers, local and over a link", test_crowd_counts_receivers},
	{"inline forwarding: routed by the caller, idle policy", test_inline},
	{"poll loop sleeps and wakes", test_main_loop_wakeup},
	CU_TEST_INFO_NULL,
};

int
main(void)
{
	return harness_run("dataplane/forward", tests, init, cleanup);
}
