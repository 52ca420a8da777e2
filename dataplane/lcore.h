/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct dp_lcore: everything one dataplane lcore touches in its loop.
 * Built by dataplane.c before launch; after that only the owning lcore
 * writes it, except `quit` (control) and the wake flag (producers).
 */
#ifndef DERPER_DATAPLANE_LCORE_H
#define DERPER_DATAPLANE_LCORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/counters.h"
#include "dataplane/session_table.h"
#include "dataplane/wake.h"

enum {
	DP_TLS_MAX = 64,	/* TLS threads (dataplane.tls_threads bound) */
	DP_BURST = 32,		/* ring dequeue burst */
	DP_STAGE = 64,		/* messages staged per TLS thread before flush */
};

/* The forwarding lcore's end of one TLS thread's pair of rings. */
struct dp_tls_peer {
	struct rte_ring *rx;		/* tls -> dp (we are the consumer) */
	struct rte_ring *tx;		/* dp -> tls (we are the producer) */
	struct dp_wake *wake;		/* the TLS thread's wake-up */
	unsigned int nb_stage;
	struct rte_mbuf *stage[DP_STAGE];
};

struct dp_lcore {
	unsigned int lcore_id;
	unsigned int index;		/* 0 .. nb dataplane lcores - 1 */
	bool forwarder;			/* owns the session table and rings */
	bool adaptive;			/* dataplane.idle = adaptive */
	uint64_t spin_tsc;		/* busy-poll this long before napping */
	uint64_t nap_ns;		/* nap length when ports need polling */
	_Atomic int quit;
	struct dp_wake wake;		/* producers kick us here */
	struct rte_mempool *pool;
	struct dp_session_table *table;	/* forwarder only */
	unsigned int nb_tls;
	struct dp_tls_peer tls[DP_TLS_MAX];
	struct dp_counters cnt;
} __attribute__((aligned(64)));

#endif /* DERPER_DATAPLANE_LCORE_H */
