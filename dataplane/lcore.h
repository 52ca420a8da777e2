/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct dp_lcore: everything one dataplane lcore touches in its loop.
 * Built by dataplane.c before launch; after that only the owning lcore
 * writes it, except `quit` (control) and the wake flag (producers).
 */
#ifndef DERPER_DATAPLANE_LCORE_H
#define DERPER_DATAPLANE_LCORE_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/counters.h"
#include "dataplane/port.h"
#include "dataplane/ratelimit.h"
#include "dataplane/session_table.h"
#include "dataplane/spin_gate.h"
#include "dataplane/wake.h"

enum {
	DP_TLS_MAX = 128,	/* ring endpoints: TLS threads plus mesh links */
	DP_WATCH_MAX = 64,	/* mesh watchers (WatchConns) */
	DP_DUMP_BUDGET = 256,	/* PeerPresent per watcher per loop, at most */
	DP_BURST = 32,		/* ring dequeue burst */
	DP_STAGE = 64,		/* messages staged per TLS thread before flush */
	DP_BACKLOG = 512,	/* control messages kept per endpoint, ring full */
};

enum {
	DP_RXQ_MAX = 2 * CFG_PORTS_MAX,	/* wire + kernel queues */
	DP_RL_SLOTS = 16384,		/* per-source STUN limiter, per lcore */
	DP_NAP_FDS = 1 + 32,		/* eventfd + ports' wait fds */
};

enum dp_rxq_kind {
	DP_RXQ_WIRE,		/* frames from the port */
	DP_RXQ_KERNEL,		/* the exception port: the kernel's egress */
};

/* One rx queue this lcore polls, and where what it does not answer goes. */
struct dp_rxq {
	uint16_t port;
	uint16_t queue;
	uint16_t out_port;	/* wire: exception port or DP_NO_PORT; kernel: the wire */
	uint8_t kind;		/* enum dp_rxq_kind */
	bool l4_cksum;		/* the PMD verifies UDP checksums */
};

/* Frames waiting for one tx burst to a port (this lcore's queue). */
struct dp_txbuf {
	uint16_t port;
	uint16_t queue;
	uint16_t n;
	struct rte_mbuf *pkts[DP_BURST];
};

/* A mesh peer that sent WatchConns: it is told of every local key, and
 * while `dumping` the table is walked from `cursor` a bit per loop, as far
 * as its ring has room (a dump of a big table must not stall routing). */
struct dp_watcher {
	struct dp_sess_ref ref;
	bool used;
	bool dumping;
	uint32_t cursor;
};

/* The forwarding lcore's end of one ring endpoint's pair of rings: a TLS
 * thread, or the thread of one outbound mesh link. */
struct dp_tls_peer {
	struct rte_ring *rx;		/* tls -> dp (we are the consumer) */
	struct rte_ring *tx;		/* dp -> tls (we are the producer) */
	struct dp_wake *wake;		/* the TLS thread's wake-up */
	unsigned int nb_stage;
	struct rte_mbuf *stage[DP_STAGE];
	/* Control messages (DUP, CLOSE, PEER_GONE, PEER_PRESENT, ...) the ring
	 * had no room for: a FIFO sent before anything newer, never dropped
	 * while it has room. Packets are dropped instead (counted), as derper
	 * drops from a full queue. */
	unsigned int bl_head, nb_backlog;
	struct rte_mbuf *backlog[DP_BACKLOG];
};

struct dp_lcore {
	unsigned int lcore_id;
	unsigned int index;		/* 0 .. nb dataplane lcores - 1 */
	bool forwarder;			/* owns the session table and rings */
	bool adaptive;			/* dataplane.idle = adaptive */
	uint64_t spin_tsc;		/* busy-poll this long before napping */
	uint64_t nap_ns;		/* nap length when ports need polling */
	struct dp_spin_gate gate;	/* adaptive: spin only on an idle core */
	/* what a nap waits on: the eventfd, then ports' wait fds */
	unsigned int nb_nap_fds;
	struct pollfd nap_fds[DP_NAP_FDS];
	_Atomic int quit;
	struct dp_wake wake;		/* producers kick us here */
	struct rte_mempool *pool;
	struct dp_session_table *table;	/* forwarder only */
	/* ring endpoints: TLS threads 0 .. nb_tls - 1, then mesh link L at
	 * nb_tls + L, up to nb_ep */
	unsigned int nb_tls;
	unsigned int nb_ep;
	struct dp_tls_peer tls[DP_TLS_MAX];
	unsigned int nb_backlogged;	/* endpoints with a backlog */
	unsigned int nb_watch;		/* used entries of watch[] */
	unsigned int nb_dumping;
	struct dp_watcher watch[DP_WATCH_MAX];

	/* ports: hot configuration copied here at startup */
	bool stun_enabled;
	bool tailscale_only;
	uint16_t stun_port;
	unsigned int nb_rxq;
	struct dp_rxq rxq[DP_RXQ_MAX];
	unsigned int nb_txb;
	struct dp_txbuf txb[DP_RXQ_MAX];
	int8_t txb_of[RTE_MAX_ETHPORTS];	/* port id -> txb index, -1 */
	struct dp_ratelimit rl;
	struct dp_rl_slot *rl_slots;

	struct dp_counters cnt;
} __attribute__((aligned(64)));

#endif /* DERPER_DATAPLANE_LCORE_H */
