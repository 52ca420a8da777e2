/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <rte_version.h>
#include <sodium.h>

#include "config/addr.h"
#include "config/diff.h"
#include "config/validate.h"
#include "control/acme.h"
#include "control/admit.h"
#include "control/eal.h"
#include "control/lifecycle.h"
#include "base/clock.h"
#include "base/log.h"
#include "control/mesh.h"
#include "control/metrics.h"
#include "control/signals.h"
#include "control/stun_guard.h"
#include "dataplane/dataplane.h"
#include "tls/tls.h"

void
ctl_print_version(FILE *out)
{
	fprintf(out, "derper-dpdk %s (%s, %s, libsodium %s)\n", DERPER_VERSION,
		rte_version(), OpenSSL_version(OPENSSL_VERSION),
		sodium_version_string());
}

/* The CPUs of the TLS threads: with dedicated lcores (idle = poll), the
 * usable ones minus the lcores'; on shared cores (adaptive) every usable
 * one, the lcores' too. Kept off the lcore's CPU, a TLS thread waited on
 * the one CPU left while the scheduler ran other work beside a napping
 * lcore (docs/performance.md: p50 at 250 pairs 1.8 ms -> 0.2 ms). */
static void
tls_cpus(const struct derper_config *cfg, cpu_set_t *out)
{
	cpu_set_t dp;
	char err[128];

	CPU_ZERO(out);
	if (sched_getaffinity(0, sizeof(*out), out))
		return;
	if (cfg->dataplane.idle == CFG_IDLE_ADAPTIVE)
		return;
	if (cfg_cpulist_parse(cfg->dataplane.lcores, &dp, err, sizeof(err)))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &dp))
			CPU_CLR(c, out);
}

/* Every session is a socket: take the hard file limit, as a relay should. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		LOG_INFO("control: file limit raised", "nofile=%llu",
			 (unsigned long long)rl.rlim_cur);
}

/* SIGHUP: certificate files are read again (manual mode: the operator
 * replaced them; the other modes: whatever is stored). New handshakes get
 * them, sessions stay. A file that does not load leaves the old one. */
static void
reload_certificates(const struct derper_config *cfg)
{
	char err[512];
	struct tls_ctx *ctx;

	if (!cfg_serves_tls(cfg))
		return;
	ctx = tls_server_new_ctx(err, sizeof(err));
	if (!ctx) {
		LOG_WARN("control: SIGHUP: certificate not reloaded; the current one stays",
			 "error=\"%s\"", err);
		return;
	}
	tls_server_set_ctx(ctx);
	LOG_INFO("control: SIGHUP: certificate reloaded", "mode=%s",
		 cfg->cert.mode == CFG_CERT_MANUAL ? "manual" :
		 cfg->cert.mode == CFG_CERT_SELFSIGNED ? "selfsigned" : "letsencrypt");
}

/* SIGHUP: a new snapshot for the reloadable keys. */
static void
reload_config(const struct derper_config *boot, const struct derper_config **live,
	      ctl_rebuild_fn rebuild)
{
	struct derper_config *n = rebuild ? malloc(sizeof(*n)) : NULL;
	const struct derper_config *old = *live;
	char why[1024], keys[1024];
	bool acked;

	if (!n)
		return;
	if (rebuild(n, why, sizeof(why))) {
		LOG_WARN("control: SIGHUP: configuration refused; the running one stays",
			 "error=\"%s\"", why);
		free(n);
		return;
	}
	if (cfg_fixed_changes(old, n, keys, sizeof(keys))) {
		LOG_WARN("control: SIGHUP: configuration refused; these keys need a restart",
			 "keys=\"%s\"", keys);
		free(n);
		return;
	}
	if (ctl_admit_enabled(old) != ctl_admit_enabled(n)) {
		LOG_WARN("control: SIGHUP: configuration refused; these keys need a restart",
			 "keys=\"%s\"", "verify.clients/verify.url: client verification on or off");
		free(n);
		return;
	}
	if (!cfg_reloadable_changes(old, n, keys, sizeof(keys))) {
		LOG_INFO("control: SIGHUP: configuration unchanged", "%s", "");
		free(n);
		return;
	}
	log_set_level((int)n->log.level);
	dp_reload(n);
	acked = tls_server_set_cfg(n) == 0;
	acked &= ctl_admit_set_cfg(n) == 0;
	*live = n;
	/* the boot snapshot stays: the threads that only read fixed keys
	 * (mesh, ACME, metrics) keep it */
	if (old != boot && acked)
		free((void *)old);
	LOG_INFO("control: SIGHUP: configuration reloaded", "changed=\"%s\"", keys);
}

/* The control loop; returns the snapshot in force at the end. */
static const struct derper_config *
serve(const struct derper_config *cfg, ctl_rebuild_fn rebuild)
{
	const struct derper_config *live = cfg;
	uint64_t trimmed = clock_mono_ms();

	for (;;) {
		/* TLS handshakes allocate and free tens of KiB each; give the
		 * freed pages back every 10 s so an idle relay's RSS is its
		 * live state (by the clock: a signal ends the wait early) */
		if (clock_mono_ms() - trimmed >= 10000) {
			malloc_trim(0);
			trimmed = clock_mono_ms();
		}
		switch (ctl_signals_wait(1000)) {
		case CTL_SIG_QUIT:
			return live;
		case CTL_SIG_RELOAD:
			reload_certificates(cfg);
			reload_config(cfg, &live, rebuild);
			break;
		case CTL_SIG_NONE:
			break;
		}
	}
}

int
ctl_run(const struct derper_config *cfg, ctl_rebuild_fn rebuild)
{
	const struct derper_config *live;
	cpu_set_t cpus;
	unsigned long told;
	int rc, guard;

	/* before any thread exists, so every thread inherits the mask */
	tls_cpus(cfg, &cpus);
	raise_fd_limit();
	rc = ctl_signals_init();
	if (rc)
		return rc;
	guard = ctl_stun_guard_open(cfg);
	if (guard < -1)
		return guard;
	if (cfg->stun.enabled && cfg->dataplane.nb_ports == 0)
		LOG_WARN("stun: not served", "reason=\"%s\"",
			 "no dataplane.ports configured: STUN is answered by the dataplane on its ports");
	rc = ctl_eal_init(cfg);
	if (rc)
		goto err_eal;
	rc = dp_init(cfg, (unsigned int)cfg->dataplane.tls_threads,
		     ctl_mesh_count(cfg));
	if (rc)
		goto err_dp;
	rc = ctl_admit_init(cfg, (unsigned int)cfg->dataplane.tls_threads);
	if (rc)
		goto err_tls;
	rc = tls_server_init(cfg, ctl_admit_link);
	if (rc)
		goto err_tls;
	rc = dp_start();
	if (rc)
		goto err_tls;
	rc = ctl_admit_start();
	if (rc)
		goto err_start;
	rc = tls_server_start(CPU_COUNT(&cpus) ? &cpus : NULL);
	if (rc)
		goto err_start;
	rc = ctl_acme_start(cfg);
	if (rc)
		goto err_acme;
	rc = ctl_mesh_start(cfg);
	if (rc)
		goto err_mesh;
	rc = ctl_metrics_start(cfg);
	if (rc)
		goto err_metrics;
	LOG_INFO("derper: running", "version=%s pid=%d", DERPER_VERSION,
		 (int)getpid());

	live = serve(cfg, rebuild);

	LOG_INFO("derper: stopping", "%s", "signal=TERM");
	ctl_metrics_stop();
	ctl_acme_stop();
	told = tls_server_drain();
	LOG_INFO("derper: sessions told to reconnect", "restarting=%lu", told);
	ctl_mesh_stop();
	ctl_admit_stop();
	dp_stop();
	tls_server_uninit();
	ctl_admit_uninit();
	dp_uninit();
	ctl_eal_uninit();
	ctl_stun_guard_close(guard);
	if (live != cfg)
		free((void *)live);
	LOG_INFO("derper: stopped", "%s", "");
	return 0;

err_metrics:
	ctl_metrics_stop();
err_mesh:
	ctl_mesh_stop();
err_acme:
	ctl_acme_stop();
err_start:
	tls_server_stop();
	ctl_admit_stop();
	dp_stop();
err_tls:
	tls_server_uninit();
	ctl_admit_uninit();
	dp_uninit();
err_dp:
	ctl_eal_uninit();
err_eal:
	ctl_stun_guard_close(guard);
	return rc;
}
