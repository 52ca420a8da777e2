/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's entry points for tests and benchmarks only (tests/dpdk,
 * tests/bench): one stage of the poll loop driven by hand. Production code
 * outside the defining files never includes this header.
 */
#ifndef DERPER_DATAPLANE_TEST_HOOKS_H
#define DERPER_DATAPLANE_TEST_HOOKS_H

#include "dataplane/lcore.h"

/* Handle a burst as if received on rxq (dataplane/wire.c). */
void dp_wire_handle(struct dp_lcore *lc, const struct dp_rxq *q,
		    struct rte_mbuf **pkts, unsigned int n);

/* Handle a burst of messages from a TLS thread's ring, staging replies;
 * dp_forward_flush() sends them (dataplane/forward.c). */
void dp_forward_burst(struct dp_lcore *lc, struct rte_mbuf **msgs,
		      unsigned int n);
void dp_forward_flush(struct dp_lcore *lc);

#endif /* DERPER_DATAPLANE_TEST_HOOKS_H */
