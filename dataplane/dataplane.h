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

#include <stdint.h>

#include "config/config.h"
#include "dataplane/counters.h"
#include "dataplane/wake.h"

struct rte_ring;
struct rte_mempool;

/* A TLS thread's end of its ring pair with the forwarding lcore. */
struct dp_tls_link {
	struct rte_ring *to_dp;		/* we produce */
	struct rte_ring *from_dp;	/* we consume */
	struct dp_wake *dp_wake;	/* kick the forwarding lcore */
	struct dp_wake *wake;		/* our own: the forwarder kicks it */
	struct rte_mempool *pool;
	int fwd_cpu;			/* the forwarder's one CPU if shared, else -1 */
};

/* After EAL init, for nb_tls TLS threads and nb_mesh outbound mesh links
 * (each a thread with its own ring pair). Returns 0 or -errno (logged). */
int dp_init(const struct derper_config *cfg, unsigned int nb_tls,
	    unsigned int nb_mesh);

/* Link of TLS thread `tls` (0 .. nb_tls - 1); valid until dp_uninit(). */
struct dp_tls_link *dp_tls_link(unsigned int tls);

/* Ring pair of mesh link `link` (0 .. nb_mesh - 1); valid until dp_uninit(). */
struct dp_tls_link *dp_mesh_link(unsigned int link);

/* Launch every dataplane lcore. Returns 0 or -errno. */
int dp_start(void);

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
