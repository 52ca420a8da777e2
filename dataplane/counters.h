/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-lcore counters. One writer each (the owning lcore, with relaxed
 * stores through DP_COUNT); control reads them with relaxed loads and sums.
 * Every early exit of the data path increments exactly one reason.
 */
#ifndef DERPER_DATAPLANE_COUNTERS_H
#define DERPER_DATAPLANE_COUNTERS_H

#include <stdint.h>

#include "dataplane/classify.h"
#include "dataplane/stun.h"

enum dp_drop_reason {
	DP_DROP_RING_FULL,	/* dp->tls ring full: frame dropped */
	DP_DROP_UNKNOWN_DEST,	/* no session for the destination key */
	DP_DROP_STALE_SESSION,	/* message for a session that has closed */
	DP_DROP_DUP_CLIENT,	/* several connections, none active */
	DP_DROP_TABLE_FULL,	/* session table or bookkeeping full */
	DP_DROP_BAD_MSG,	/* malformed ring message (a bug) */
	DP_DROP_NO_MBUF,	/* pool empty: a notice could not be built */
	DP_DROP_UNKNOWN_DEST_ON_FWD,	/* ForwardPacket for a key not local */
	DP_DROP_WATCH_FULL,	/* WatchConns beyond DP_WATCH_MAX watchers */
	DP_DROP_BACKLOG_FULL,	/* control message: ring and backlog both full */
	DP_DROP_NB
};

struct dp_counters {
	uint64_t loops;
	uint64_t busy_loops;
	uint64_t sleeps;	/* adaptive idle: times the lcore slept */
	uint64_t spin_gate_closed;	/* adaptive idle: spin stopped, core wanted */
	uint64_t spin_crowded;	/* adaptive idle: spin stopped, many receivers */
	uint64_t spin_streaming;	/* adaptive idle: spin stopped, one-way stream */
	uint64_t ring_msgs;	/* messages dequeued from TLS threads */
	uint64_t forwarded;	/* DERP frames routed to their destination */
	uint64_t not_here;	/* PeerGone(NotHere) notices sent back */
	uint64_t sessions_up;
	uint64_t sessions_down;
	/* regional mesh */
	uint64_t mesh_forwarded;	/* sent on as ForwardPacket over a link */
	uint64_t mesh_fwd_add;		/* a link announced a key */
	uint64_t mesh_fwd_del;		/* a link withdrew a key */
	uint64_t mesh_link_down;	/* a link dropped: its keys forgotten */
	uint64_t mesh_close_peer;	/* connections closed by ClosePeer */
	uint64_t mesh_close_unknown;	/* ClosePeer for a key not here */
	uint64_t watch_present;		/* PeerPresent sent to watchers */
	uint64_t watch_gone;		/* PeerGone sent to watchers */
	uint64_t drops[DP_DROP_NB];

	/* ports */
	uint64_t rx_pkts;		/* from the wire */
	uint64_t tx_pkts;		/* to the wire and the kernel */
	uint64_t tx_dropped;		/* tx queue full */
	uint64_t exc_in;		/* wire -> kernel (exclusive) */
	uint64_t exc_out;		/* kernel -> wire (exclusive) */
	uint64_t shared_other;		/* shared mode: not STUN, left to the kernel */
	uint64_t stun_answered;
	uint64_t stun_rate_limited;
	uint64_t stun_multiseg;		/* a request in a chained mbuf: dropped */
	uint64_t stun_drops[STUN_VERDICT_NB];
	uint64_t classes[DP_CR_NB];	/* classification outcome per frame */
} __attribute__((aligned(64)));

#define DP_COUNT(c, field, n)                                              \
	__atomic_store_n(&(c)->field, (c)->field + (n), __ATOMIC_RELAXED)

#define DP_COUNT_DROP(c, reason)                                           \
	__atomic_store_n(&(c)->drops[reason], (c)->drops[reason] + 1,      \
			 __ATOMIC_RELAXED)

#define DP_READ(c, field) __atomic_load_n(&(c)->field, __ATOMIC_RELAXED)

#endif /* DERPER_DATAPLANE_COUNTERS_H */
