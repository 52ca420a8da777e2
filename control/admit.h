/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client admission (docs/protocol.md §8): verify.clients asks the local
 * tailscaled over its LocalAPI unix socket whether a node key belongs to
 * the tailnet; verify.url asks the operator's webhook. A client must pass
 * every configured check, tailscaled first. Mesh peers never get here.
 *
 * One control-side thread does it all with libcurl's multi interface, so
 * no TLS thread ever blocks: a TLS thread puts a request on its ring and
 * parks the session in its "verifying" state; the verdict comes back on
 * the paired ring and wakes the thread. Verdicts are cached (admitted and
 * rejected keys, each with its TTL), and concurrent requests for the same
 * key and source share one lookup, so a reconnect storm does not hammer
 * tailscaled or the webhook.
 */
#ifndef DERPER_CONTROL_ADMIT_H
#define DERPER_CONTROL_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "tls/admit_link.h"

const char *admit_reason_name(int reason);

/* Is any check configured? */
bool ctl_admit_enabled(const struct derper_config *cfg);

/* Rings for nb_tls TLS threads; a verdict wakes its TLS thread through
 * the thread's own wake-up (dp_tls_link(i)->wake). After dp_init(),
 * before tls_server_init(). 0 or -errno, logged. */
int ctl_admit_init(const struct derper_config *cfg, unsigned int nb_tls);

/* TLS thread i's link, or NULL when admission is off. */
struct admit_link *ctl_admit_link(unsigned int tls);

int ctl_admit_start(void);
void ctl_admit_stop(void);
void ctl_admit_uninit(void);

/* SIGHUP: the admission thread moves to cfg (verify.* settings) and says
 * so; 0 once it has (the old snapshot is no longer used), -ETIMEDOUT. */
int ctl_admit_set_cfg(const struct derper_config *cfg);

/* The admission thread's counters and state, read by any thread. */
struct admit_snapshot {
	bool running;			/* admission on and its thread started */
	bool localapi;			/* verify.clients */
	int mode;			/* 0 unknown, 1 whois, 2 status peer list */
	uint64_t requests, cache_hits, coalesced;
	uint64_t localapi_calls, status_fetches, webhook_calls;
	uint64_t admitted, admitted_fail_open;
	uint64_t rejected[ADMIT_REASON_NB];
};
void ctl_admit_snapshot(struct admit_snapshot *out);

/* /derper/admission for DPDK telemetry (control/admit_metrics.c). */
struct rte_tel_data;
int ctl_admit_telemetry(const char *cmd, const char *params, struct rte_tel_data *d);

/* Admission counters as metrics (nothing when admission is off). */
struct prom;
void ctl_admit_metrics(struct prom *p);

#endif /* DERPER_CONTROL_ADMIT_H */
