/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane as control sees it: build (mempool, rings, session table,
 * lcore contexts), launch the lcores, stop them, tear down. Also what a
 * TLS thread needs to talk to the forwarding lcore (struct dp_tls_link).
 *
 * All functions here run on the control (main) thread, except where noted.
 */
#ifndef DERPER_DATAPLANE_DATAPLANE_H
#define DERPER_DATAPLANE_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "dataplane/counters.h"
#include "dataplane/wake.h"

struct rte_ring;
struct rte_mempool;
struct dp_lcore;

/* A TLS thread's end of its ring pair with the forwarding lcore. */
struct dp_tls_link {
	struct rte_ring *to_dp;		/* we produce */
	struct rte_ring *from_dp;	/* we consume */
	struct dp_wake *dp_wake;	/* kick the forwarding lcore */
	struct dp_wake *wake;		/* our own: the forwarder kicks it */
	struct rte_mempool *pool;
	int fwd_cpu;			/* the forwarder's one CPU if shared, else -1 */
	/* Set by dp_start when this TLS thread runs the forwarder itself
	 * (see "Inline forwarding" below), else NULL. */
	struct dp_lcore *inline_fwd;
};

/* After EAL init, for nb_tls TLS threads and nb_mesh outbound mesh links
 * (each a thread with its own ring pair). Returns 0 or -errno (logged). */
int dp_init(const struct derper_config *cfg, unsigned int nb_tls,
	    unsigned int nb_mesh);

/* Link of TLS thread `tls` (0 .. nb_tls - 1); valid until dp_uninit(). */
struct dp_tls_link *dp_tls_link(unsigned int tls);

/* Ring pair of mesh link `link` (0 .. nb_mesh - 1); valid until dp_uninit(). */
struct dp_tls_link *dp_mesh_link(unsigned int link);

/* Launch every dataplane lcore, or hand the forwarder to the one TLS
 * thread (inline forwarding, below). Returns 0 or -errno. */
int dp_start(void);

/*
 * Inline forwarding. On shared cores (idle = adaptive) with one TLS thread
 * and one dataplane lcore, the forwarder gets no thread of its own: the TLS
 * thread runs it on its own turns, between reading its sockets and writing
 * them. The rings stay as they are; what goes away is the hop between two
 * threads, a kick and a wait per packet, which on shared cores costs a
 * wake-up of another CPU. The lcore's ports, if any, stay on the lcore in
 * a context of their own (telemetry's lcore 1; the forwarder is lcore 0),
 * so STUN is answered whatever the TLS thread is busy with. Called only by
 * that TLS thread (link->inline_fwd):
 *   dp_inline_run    forwards what the rings hold (bounded); messages moved
 *   dp_inline_busy   the forwarder has work waiting (skip the sleep)
 *   dp_inline_spin   after a turn with nothing to do, the lcore's idle
 *                    policy (main_loop.c): true to poll again at once (it
 *                    yielded the CPU once), false to sleep
 *   dp_inline_slept  the sleep that followed, start and end in TSC
 *   dp_inline_wake   the forwarder's eventfd: mesh links kick it, so the
 *                    TLS thread polls it and prepares it before sleeping
 */
unsigned int dp_inline_run(struct dp_lcore *lc);
bool dp_inline_busy(const struct dp_lcore *lc);
bool dp_inline_spin(struct dp_lcore *lc, uint64_t last_work);
void dp_inline_slept(struct dp_lcore *lc, uint64_t start, uint64_t end);
struct dp_wake *dp_inline_wake(struct dp_lcore *lc);

/* Ask every lcore to quit, wake it, and wait for it. */
void dp_stop(void);

/* Free rings, pool and table; drains anything left in the rings. */
void dp_uninit(void);

/* Sum of every lcore's counters (relaxed reads). Any thread. */
void dp_counters_sum(struct dp_counters *out);

/* SIGHUP: the reloadable dataplane keys (stun.tailscale_only) reach the
 * lcores. Control thread. */
void dp_reload(const struct derper_config *cfg);

/* Dataplane lcores, and one lcore's counters (metrics per lcore). */
unsigned int dp_nb_lcores(void);
void dp_counters_lcore(unsigned int i, struct dp_counters *out);

/* Entries in every TLS/mesh ring pair now, and their total capacity. */
void dp_rings_usage(unsigned int *used, unsigned int *capacity);

/* Register /derper/stats and /derper/lcore with DPDK telemetry. */
void dp_telemetry_register(void);

/* Mbufs of the DERP pool currently allocated (leak checks, metrics). */
unsigned int dp_pool_in_use(void);

/* Both pools: mbufs allocated and in all (0 for a pool not created). Any
 * thread; a snapshot. */
struct dp_pool_usage {
	unsigned int in_use, size;
};
void dp_pools_usage(struct dp_pool_usage *derp, struct dp_pool_usage *nic);

#endif /* DERPER_DATAPLANE_DATAPLANE_H */
