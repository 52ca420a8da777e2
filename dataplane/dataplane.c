/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Startup and teardown of the dataplane. The first dataplane lcore is the
 * forwarding lcore: it owns the session table and every TLS ring pair, so
 * DERP routing has a single writer and needs no locks. Further lcores
 * serve port queues only (STUN spreads by RSS). Under inline forwarding
 * (dataplane.h) the forwarder's context is run by the one TLS thread, and
 * the lcore's ports, if any, move to a context of their own that the
 * lcore runs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "base/log.h"
#include "dataplane/dataplane.h"
#include "dataplane/lcore.h"
#include "dataplane/main_loop.h"
#include "dataplane/port.h"
#include "dataplane/ring_msg.h"

enum {
	DP_LCORES_MAX = 64,
	DP_POOL_CACHE = 256,
};

struct dp_state {
	/* Two pools, so that one kind of traffic cannot starve the other:
	 * DERP frames (TLS threads, forwarder notices, mesh links) take from
	 * `pool` (dataplane.mbufs); the ports' rx/tx rings, STUN and the
	 * exception path from `nic_pool`, sized from the rings. */
	struct rte_mempool *pool;
	struct rte_mempool *nic_pool;
	struct dp_session_table table;
	unsigned int nb_lcores;
	struct dp_lcore *lcores[DP_LCORES_MAX];
	unsigned int nb_tls;
	unsigned int nb_ep;		/* TLS threads, then mesh links */
	struct dp_tls_link links[DP_TLS_MAX];
	struct dp_wake tls_wake[DP_TLS_MAX];
	unsigned int nb_ports;
	struct dp_port ports[CFG_PORTS_MAX];
	bool inline_fwd;		/* lcores[0] is run by TLS thread 0 */
	bool started;
};

static struct dp_state dp;

static int
wake_init(struct dp_wake *w)
{
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	atomic_store(&w->sleeping, 0);
	return w->efd < 0 ? -errno : 0;
}

static void
wake_uninit(struct dp_wake *w)
{
	if (w->efd >= 0)
		close(w->efd);
	w->efd = -1;
}

static struct rte_ring *
ring(const char *what, unsigned int i, unsigned int size, int socket)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "derper_%s%u", what, i);
	return rte_ring_create(name, size, socket,
			       RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
}

static int
create_links(const struct derper_config *cfg, struct dp_lcore *fwd)
{
	unsigned int size = (unsigned int)cfg->dataplane.ring_size;
	int socket = (int)rte_socket_id();
	rte_cpuset_t cpus = rte_lcore_cpuset(fwd->lcore_id);
	/* A TLS thread that runs on the forwarder's CPU (shared cores) must
	 * not spin there for its answer: that CPU is the one the answer
	 * needs. Known only when the lcore is pinned to one CPU. */
	int fwd_cpu = fwd->adaptive && CPU_COUNT(&cpus) == 1 ?
			      (int)rte_lcore_to_cpu_id((int)fwd->lcore_id) : -1;

	for (unsigned int t = 0; t < dp.nb_ep; t++) {
		struct dp_tls_link *l = &dp.links[t];
		int rc = wake_init(&dp.tls_wake[t]);

		if (rc)
			return rc;
		l->to_dp = ring("to_dp", t, size, socket);
		l->from_dp = ring("from_dp", t, size, socket);
		if (!l->to_dp || !l->from_dp) {
			LOG_ERR("dataplane: cannot create rings", "error=\"%s\"",
				rte_strerror(rte_errno));
			return -ENOMEM;
		}
		l->dp_wake = &fwd->wake;
		l->wake = &dp.tls_wake[t];
		l->pool = dp.pool;
		l->fwd_cpu = fwd_cpu;
		fwd->tls[t].rx = l->to_dp;
		fwd->tls[t].tx = l->from_dp;
		fwd->tls[t].wake = l->wake;
	}
	fwd->nb_tls = dp.nb_tls;
	fwd->nb_ep = dp.nb_ep;
	return 0;
}

/* Context `i` of the dataplane, run by EAL lcore `lcore_id`: idle policy,
 * wake-up, no ports yet. Stored in dp.lcores[i] as soon as allocated, so
 * dp_uninit frees it whatever fails after. */
static int
lcore_ctx(const struct derper_config *cfg, unsigned int i, unsigned int lcore_id,
	  struct dp_lcore **out)
{
	struct dp_lcore *lc = rte_zmalloc_socket("dp_lcore", sizeof(*lc), 64,
						 (int)rte_lcore_to_socket_id(lcore_id));
	int rc;

	*out = lc;
	if (!lc)
		return -ENOMEM;
	dp.lcores[i] = lc;
	dp.nb_lcores = i + 1;
	lc->lcore_id = lcore_id;
	lc->index = i;
	lc->adaptive = cfg->dataplane.idle == CFG_IDLE_ADAPTIVE;
	lc->spin_tsc = rte_get_tsc_hz() / 1000000 * (uint64_t)cfg->dataplane.spin_us;
	/* a yield over 32 us gave the core away; a verdict per 5 ms of
	 * yields; closed for 50 ms, or until a nap of 1 ms; the receivers
	 * counted per 10 ms (dataplane/spin_gate.h) */
	dp_spin_gate_init(&lc->gate, rte_get_tsc_hz() / 1000000 * 32,
			  rte_get_tsc_hz() / 200, rte_get_tsc_hz() / 20,
			  rte_get_tsc_hz() / 1000, rte_get_tsc_hz() / 100);
	/* no ports yet: sleep until kicked (or 1 s to re-check) */
	lc->nap_ns = 1000000000ULL;
	lc->pool = dp.pool;
	rc = wake_init(&lc->wake);
	lc->nap_fds[0] = (struct pollfd){.fd = lc->wake.efd, .events = POLLIN};
	lc->nb_nap_fds = 1;
	return rc;
}

static int
create_lcores(const struct derper_config *cfg)
{
	unsigned int lcore_id, i = 0;

	RTE_LCORE_FOREACH_WORKER(lcore_id) {
		struct dp_lcore *lc;
		int rc;

		if (i >= DP_LCORES_MAX)
			break;
		rc = lcore_ctx(cfg, i, lcore_id, &lc);
		if (rc)
			return rc;
		lc->forwarder = i == 0;
		if (lc->forwarder) {
			lc->table = &dp.table;
			rc = create_links(cfg, lc);
			if (rc)
				return rc;
		}
		i++;
	}
	if (dp.nb_lcores == 0) {
		LOG_ERR("dataplane: no worker lcore", "hint=\"%s\"",
			"dataplane.lcores must name at least one CPU besides the main lcore");
		return -EINVAL;
	}
	return 0;
}

static int
add_txb(struct dp_lcore *lc, uint16_t port, uint16_t queue)
{
	if (lc->txb_of[port] >= 0)
		return 0;
	if (lc->nb_txb == DP_RXQ_MAX)
		return -ENOSPC;
	lc->txb_of[port] = (int8_t)lc->nb_txb;
	lc->txb[lc->nb_txb].port = port;
	lc->txb[lc->nb_txb].queue = queue;
	lc->nb_txb++;
	return 0;
}

/* When every port the lcore polls can wake it (shared net_af_packet: its
 * sockets poll readable while a frame waits), its nap blocks on them and
 * on its eventfd instead of polling every nap_us. Every socket of such a
 * port: which one carries the lcore's queue is the PMD's business, and a
 * frame for another lcore's queue only costs a spurious wake-up. */
static bool
wait_on_ports(struct dp_lcore *lc)
{
	unsigned int n = 1;	/* nap_fds[0]: the eventfd (create_lcores) */

	for (unsigned int p = 0; p < dp.nb_ports; p++) {
		const struct dp_port *port = &dp.ports[p];
		bool polled = false;

		for (unsigned int r = 0; r < lc->nb_rxq; r++)
			polled |= lc->rxq[r].port == port->id || lc->rxq[r].port == port->exc_id;
		if (!polled)
			continue;
		if (port->nb_wait_fds == 0 || n + port->nb_wait_fds > DP_NAP_FDS) {
			lc->nb_nap_fds = 1;
			return false;
		}
		for (unsigned int f = 0; f < port->nb_wait_fds; f++)
			lc->nap_fds[n++] = (struct pollfd){.fd = port->wait_fds[f], .events = POLLIN};
	}
	lc->nb_nap_fds = n;
	return true;
}

/* Lcore i serves queue i of every port that has one; hot settings are
 * copied into the lcore so the loop never reads the config. */
static int
wire_lcores(const struct derper_config *cfg)
{
	for (unsigned int i = 0; i < dp.nb_lcores; i++) {
		struct dp_lcore *lc = dp.lcores[i];

		memset(lc->txb_of, -1, sizeof(lc->txb_of));
		lc->stun_enabled = cfg->stun.enabled;
		lc->tailscale_only = cfg->stun.tailscale_only;
		lc->stun_port = (uint16_t)cfg->stun.port;
		for (unsigned int p = 0; p < dp.nb_ports; p++) {
			const struct dp_port *port = &dp.ports[p];
			uint16_t q = (uint16_t)i;

			if (q >= port->nb_queues)
				continue;
			lc->rxq[lc->nb_rxq++] = (struct dp_rxq){
				.port = port->id, .queue = q, .out_port = port->exc_id,
				.kind = DP_RXQ_WIRE, .l4_cksum = port->rx_l4_cksum,
			};
			if (add_txb(lc, port->id, q))
				return -ENOSPC;
			if (port->exc_id == DP_NO_PORT)
				continue;
			lc->rxq[lc->nb_rxq++] = (struct dp_rxq){
				.port = port->exc_id, .queue = q, .out_port = port->id,
				.kind = DP_RXQ_KERNEL,
			};
			if (add_txb(lc, port->exc_id, q))
				return -ENOSPC;
		}
		if (lc->nb_rxq && !wait_on_ports(lc))
			/* ports with no way to wake us: nap, then poll */
			lc->nap_ns = 1000ULL * (uint64_t)cfg->dataplane.nap_us;
		if (lc->nb_rxq && cfg->stun.rate_limit_pps) {
			lc->rl_slots = rte_zmalloc_socket("dp_rl", sizeof(*lc->rl_slots) * DP_RL_SLOTS,
							  64, (int)rte_lcore_to_socket_id(lc->lcore_id));
			if (!lc->rl_slots)
				return -ENOMEM;
			dp_ratelimit_init(&lc->rl, lc->rl_slots, DP_RL_SLOTS,
					  (uint64_t)cfg->stun.rate_limit_pps,
					  (uint64_t)cfg->stun.rate_limit_burst, rte_get_tsc_hz());
		}
	}
	return 0;
}

/* Inline forwarding with ports: the ports go to a context of their own
 * (lcores[1], same EAL lcore, not a forwarder), so that the lcore keeps
 * answering STUN and moving the exception path's frames while the TLS
 * thread runs the forwarder in lcores[0]. Nothing on the ports' path
 * touches the session table or the rings. lcores[0] keeps the forwarder
 * because the links point at its wake-up. */
static int
split_ports(const struct derper_config *cfg)
{
	struct dp_lcore *fwd = dp.lcores[0], *pl;
	int rc = lcore_ctx(cfg, 1, fwd->lcore_id, &pl);

	if (rc)
		return rc;
	for (unsigned int k = 1; k < fwd->nb_nap_fds; k++)
		pl->nap_fds[k] = fwd->nap_fds[k];
	pl->nb_nap_fds = fwd->nb_nap_fds;
	pl->nap_ns = fwd->nap_ns;
	pl->stun_enabled = fwd->stun_enabled;
	pl->tailscale_only = fwd->tailscale_only;
	pl->stun_port = fwd->stun_port;
	pl->nb_rxq = fwd->nb_rxq;
	memcpy(pl->rxq, fwd->rxq, sizeof(pl->rxq));
	pl->nb_txb = fwd->nb_txb;
	memcpy(pl->txb, fwd->txb, sizeof(pl->txb));
	memcpy(pl->txb_of, fwd->txb_of, sizeof(pl->txb_of));
	pl->rl = fwd->rl;
	pl->rl_slots = fwd->rl_slots;

	fwd->nb_rxq = 0;
	fwd->nb_txb = 0;
	memset(fwd->txb_of, -1, sizeof(fwd->txb_of));
	fwd->rl_slots = NULL;
	memset(&fwd->rl, 0, sizeof(fwd->rl));
	fwd->nb_nap_fds = 1;
	return 0;
}

/* The ports' own pool: every rx and tx ring full (twice with an exception
 * port), the lcores' caches and bursts, and as much again in flight
 * (frames on their way through the exception path), as 2^n - 1. */
static unsigned int
nic_pool_size(const struct derper_config *cfg)
{
	uint64_t need = 0, n = 1;

	for (unsigned int i = 0; i < cfg->dataplane.nb_ports; i++) {
		uint64_t rings = (uint64_t)(cfg->dataplane.rx_desc + cfg->dataplane.tx_desc) *
				 dp.nb_lcores;

		need += cfg->dataplane.ports[i].mode == CFG_PORT_EXCLUSIVE ? 2 * rings : rings;
	}
	need = 2 * need + (uint64_t)dp.nb_lcores * (DP_POOL_CACHE + 2 * DP_BURST);
	while (n - 1 < need)
		n <<= 1;
	return (unsigned int)(n - 1);
}

static struct rte_mempool *
pool_create(const char *name, unsigned int n, int socket)
{
	struct rte_mempool *p = rte_pktmbuf_pool_create(name, n, DP_POOL_CACHE,
							RTE_ALIGN(sizeof(struct dp_msg),
								  RTE_MBUF_PRIV_ALIGN),
							RTE_MBUF_DEFAULT_BUF_SIZE, socket);

	if (!p)
		LOG_ERR("dataplane: cannot create an mbuf pool", "pool=%s mbufs=%u error=\"%s\"",
			name, n, rte_strerror(rte_errno));
	return p;
}

int
dp_init(const struct derper_config *cfg, unsigned int nb_tls,
	unsigned int nb_mesh)
{
	int socket = (int)rte_socket_id();
	int rc;

	memset(&dp, 0, sizeof(dp));
	for (unsigned int t = 0; t < DP_TLS_MAX; t++)
		dp.tls_wake[t].efd = -1;
	if (nb_tls == 0 || nb_tls + nb_mesh > DP_TLS_MAX)
		return -EINVAL;
	dp.nb_tls = nb_tls;
	dp.nb_ep = nb_tls + nb_mesh;
	dp.pool = pool_create("derper_derp", (unsigned int)cfg->dataplane.mbufs, socket);
	if (!dp.pool)
		return -ENOMEM;
	rc = dp_session_table_init(&dp.table, "derper_sessions",
				   (uint32_t)cfg->dataplane.table_size, socket);
	if (rc) {
		LOG_ERR("dataplane: cannot create the session table",
			"keys=%lld error=\"%s\"",
			(long long)cfg->dataplane.table_size, rte_strerror(-rc));
		return rc;
	}
	rc = create_lcores(cfg);
	if (rc)
		return rc;
	dp.nb_ports = cfg->dataplane.nb_ports;
	if (dp.nb_ports) {
		dp.nic_pool = pool_create("derper_nic", nic_pool_size(cfg), socket);
		if (!dp.nic_pool)
			return -ENOMEM;
	}
	rc = dp_ports_init(cfg, dp.nb_lcores, dp.nic_pool, dp.ports);
	if (rc)
		return rc;
	rc = wire_lcores(cfg);
	if (rc)
		return rc;
	dp_telemetry_register();
	if (cfg->dataplane.idle == CFG_IDLE_ADAPTIVE)
		LOG_INFO("dataplane: ready", "lcores=%u tls_threads=%u mbufs=%lld ring_size=%lld "
			 "idle=adaptive spin_us=%lld nap_us=%lld",
			 dp.nb_lcores, dp.nb_tls, (long long)cfg->dataplane.mbufs,
			 (long long)cfg->dataplane.ring_size, (long long)cfg->dataplane.spin_us,
			 (long long)cfg->dataplane.nap_us);
	else
		LOG_INFO("dataplane: ready", "lcores=%u tls_threads=%u mbufs=%lld ring_size=%lld "
			 "idle=poll", dp.nb_lcores, dp.nb_tls, (long long)cfg->dataplane.mbufs,
			 (long long)cfg->dataplane.ring_size);
	/* inline forwarding (dataplane.h): shared cores, one TLS thread, one
	 * lcore */
	dp.inline_fwd = dp.nb_lcores == 1 && dp.nb_tls == 1 && dp.lcores[0]->adaptive;
	if (dp.inline_fwd && dp.lcores[0]->nb_rxq)
		return split_ports(cfg);
	return 0;
}

struct dp_tls_link *
dp_tls_link(unsigned int tls)
{
	return tls < dp.nb_tls ? &dp.links[tls] : NULL;
}

struct dp_tls_link *
dp_mesh_link(unsigned int link)
{
	return dp.nb_tls + link < dp.nb_ep ? &dp.links[dp.nb_tls + link] : NULL;
}

int
dp_start(void)
{
	unsigned int first = 0;

	if (dp.inline_fwd) {
		/* every ring's other end is TLS thread 0 (mesh links only
		 * kick); the lcore runs the ports' context, if there is one */
		dp.links[0].inline_fwd = dp.lcores[0];
		first = 1;
		LOG_INFO("dataplane: forwarding inline", "tls=0 lcore=%u ports_on_lcore=%s "
			 "reason=\"%s\"", dp.lcores[0]->lcore_id,
			 dp.nb_lcores > 1 ? "yes" : "no", "shared cores, one TLS thread, one lcore");
	}
	for (unsigned int i = first; i < dp.nb_lcores; i++) {
		int rc = rte_eal_remote_launch(dp_main_loop, dp.lcores[i],
					       dp.lcores[i]->lcore_id);

		if (rc) {
			LOG_ERR("dataplane: cannot launch lcore", "lcore=%u rc=%d",
				dp.lcores[i]->lcore_id, rc);
			dp_stop();
			return rc;
		}
	}
	dp.started = true;
	return 0;
}

void
dp_stop(void)
{
	for (unsigned int i = 0; i < dp.nb_lcores; i++) {
		atomic_store(&dp.lcores[i]->quit, 1);
		dp_wake_kick(&dp.lcores[i]->wake);
	}
	rte_eal_mp_wait_lcore();
	dp.started = false;
}

static void
drain(struct rte_ring *r)
{
	void *m;

	while (r && rte_ring_sc_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
}

void
dp_uninit(void)
{
	for (unsigned int t = 0; t < dp.nb_ep; t++) {
		drain(dp.links[t].to_dp);
		drain(dp.links[t].from_dp);
		rte_ring_free(dp.links[t].to_dp);
		rte_ring_free(dp.links[t].from_dp);
		wake_uninit(&dp.tls_wake[t]);
	}
	dp_ports_uninit(dp.ports, dp.nb_ports);
	for (unsigned int i = 0; i < dp.nb_lcores; i++) {
		/* messages still held back for a thread that has stopped */
		for (unsigned int t = 0; t < dp.lcores[i]->nb_ep; t++) {
			struct dp_tls_peer *p = &dp.lcores[i]->tls[t];

			for (unsigned int k = 0; k < p->nb_backlog; k++)
				rte_pktmbuf_free(p->backlog[(p->bl_head + k) % DP_BACKLOG]);
			p->nb_backlog = 0;
		}
		wake_uninit(&dp.lcores[i]->wake);
		rte_free(dp.lcores[i]->rl_slots);
		rte_free(dp.lcores[i]);
	}
	if (dp.table.h)
		dp_session_table_uninit(&dp.table);
	rte_mempool_free(dp.pool);
	rte_mempool_free(dp.nic_pool);
	memset(&dp, 0, sizeof(dp));
}

/* Relaxed reads of one lcore's counters, added to `out`. The struct is
 * nothing but uint64_t fields (and padding, which stays zero). */
static void
counters_add(struct dp_counters *out, const struct dp_counters *c)
{
	const uint64_t *src = (const uint64_t *)c;
	uint64_t *dst = (uint64_t *)out;

	for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
		dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
}

void
dp_reload(const struct derper_config *cfg)
{
	for (unsigned int i = 0; i < dp.nb_lcores; i++)
		__atomic_store_n(&dp.lcores[i]->tailscale_only, cfg->stun.tailscale_only,
				 __ATOMIC_RELAXED);
}

unsigned int
dp_nb_lcores(void)
{
	return dp.nb_lcores;
}

void
dp_counters_lcore(unsigned int i, struct dp_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (i < dp.nb_lcores)
		counters_add(out, &dp.lcores[i]->cnt);
}

void
dp_rings_usage(unsigned int *used, unsigned int *capacity)
{
	*used = *capacity = 0;
	for (unsigned int t = 0; t < dp.nb_ep; t++) {
		struct rte_ring *r[2] = {dp.links[t].to_dp, dp.links[t].from_dp};

		for (int k = 0; k < 2; k++)
			if (r[k]) {
				*used += rte_ring_count(r[k]);
				*capacity += rte_ring_get_capacity(r[k]);
			}
	}
}

void
dp_counters_sum(struct dp_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < dp.nb_lcores; i++)
		counters_add(out, &dp.lcores[i]->cnt);
}

/*
 * DPDK telemetry: /derper/stats (the sums) and /derper/lcore,<n> (one
 * lcore), next to /ethdev/stats, for dpdk-telemetry.py. Runs on the
 * telemetry thread: relaxed reads of one-writer counters.
 */
static void
tel_counters(struct rte_tel_data *d, const struct dp_counters *c)
{
	static const char *const drop_names[DP_DROP_NB] = {
		"drop_ring_full", "drop_unknown_dest", "drop_stale_session",
		"drop_dup_client", "drop_table_full", "drop_bad_msg", "drop_no_mbuf",
		"drop_unknown_dest_on_fwd", "drop_watch_full", "drop_backlog_full",
	};

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx_pkts", c->rx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_pkts", c->tx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_dropped", c->tx_dropped);
	rte_tel_data_add_dict_u64(d, "exception_in", c->exc_in);
	rte_tel_data_add_dict_u64(d, "exception_out", c->exc_out);
	rte_tel_data_add_dict_u64(d, "shared_other", c->shared_other);
	rte_tel_data_add_dict_u64(d, "stun_answered", c->stun_answered);
	rte_tel_data_add_dict_u64(d, "stun_rate_limited", c->stun_rate_limited);
	for (int r = 1; r < STUN_VERDICT_NB; r++) {
		char name[64];

		snprintf(name, sizeof(name), "stun_drop_%s", stun_verdict_name(r));
		rte_tel_data_add_dict_u64(d, name, c->stun_drops[r]);
	}
	for (int r = 0; r < DP_CR_NB; r++) {
		char name[64];

		snprintf(name, sizeof(name), "class_%s", dp_class_reason_name(r));
		rte_tel_data_add_dict_u64(d, name, c->classes[r]);
	}
	rte_tel_data_add_dict_u64(d, "derp_forwarded", c->forwarded);
	rte_tel_data_add_dict_u64(d, "derp_not_here", c->not_here);
	rte_tel_data_add_dict_u64(d, "sessions_up", c->sessions_up);
	rte_tel_data_add_dict_u64(d, "sessions_down", c->sessions_down);
	rte_tel_data_add_dict_u64(d, "mesh_forwarded", c->mesh_forwarded);
	rte_tel_data_add_dict_u64(d, "mesh_fwd_add", c->mesh_fwd_add);
	rte_tel_data_add_dict_u64(d, "mesh_fwd_del", c->mesh_fwd_del);
	rte_tel_data_add_dict_u64(d, "mesh_link_down", c->mesh_link_down);
	rte_tel_data_add_dict_u64(d, "mesh_close_peer", c->mesh_close_peer);
	rte_tel_data_add_dict_u64(d, "mesh_close_unknown", c->mesh_close_unknown);
	rte_tel_data_add_dict_u64(d, "watch_present", c->watch_present);
	rte_tel_data_add_dict_u64(d, "watch_gone", c->watch_gone);
	for (int r = 0; r < DP_DROP_NB; r++)
		rte_tel_data_add_dict_u64(d, drop_names[r], c->drops[r]);
	rte_tel_data_add_dict_u64(d, "loops", c->loops);
	rte_tel_data_add_dict_u64(d, "sleeps", c->sleeps);
	rte_tel_data_add_dict_u64(d, "spin_gate_closed", c->spin_gate_closed);
	rte_tel_data_add_dict_u64(d, "spin_crowded", c->spin_crowded);
	rte_tel_data_add_dict_u64(d, "spin_streaming", c->spin_streaming);
	rte_tel_data_add_dict_u64(d, "mempool_in_use", dp_pool_in_use());
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_counters c;

	(void)cmd;
	(void)params;
	dp_counters_sum(&c);
	tel_counters(d, &c);
	return 0;
}

static int
tel_lcore(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned int i;
	struct dp_counters c;

	(void)cmd;
	if (!params || sscanf(params, "%u", &i) != 1 || i >= dp.nb_lcores)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	counters_add(&c, &dp.lcores[i]->cnt);
	tel_counters(d, &c);
	return 0;
}

void
dp_telemetry_register(void)
{
	rte_telemetry_register_cmd("/derper/stats", tel_stats,
				   "Dataplane counters summed over lcores");
	rte_telemetry_register_cmd("/derper/lcore", tel_lcore,
				   "Dataplane counters of one lcore. Parameters: int lcore index");
}

unsigned int
dp_pool_in_use(void)
{
	return dp.pool ? rte_mempool_in_use_count(dp.pool) : 0;
}

void
dp_pools_usage(struct dp_pool_usage *derp, struct dp_pool_usage *nic)
{
	derp->in_use = dp.pool ? rte_mempool_in_use_count(dp.pool) : 0;
	derp->size = dp.pool ? dp.pool->size : 0;
	nic->in_use = dp.nic_pool ? rte_mempool_in_use_count(dp.nic_pool) : 0;
	nic->size = dp.nic_pool ? dp.nic_pool->size : 0;
}
