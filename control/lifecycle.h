/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Running the relay: ordered bring-up, the control loop, and teardown in
 * reverse order (each *_init paired with its *_uninit, unwound with goto).
 */
#ifndef DERPER_CONTROL_LIFECYCLE_H
#define DERPER_CONTROL_LIFECYCLE_H

#include <stdio.h>

#include "config/config.h"

/*
 * signals -> EAL -> dataplane (pool, rings, table, lcores) -> TLS (key,
 * certificate, listeners, threads) -> serve until SIGTERM/SIGINT -> drain
 * (Restarting to every client) -> stop and free in reverse order.
 * Returns 0 on a clean stop, -errno when startup failed (cause logged).
 *
 * SIGHUP re-reads the certificate files, and the configuration through
 * `rebuild` (same file, environment and flags as at start): a snapshot
 * that validates and changes only reloadable keys replaces the running
 * one without dropping sessions; anything else is refused and logged.
 */
typedef int (*ctl_rebuild_fn)(struct derper_config *out, char *why, size_t n);
int ctl_run(const struct derper_config *cfg, ctl_rebuild_fn rebuild);

/* "derper-dpdk 0.1.0 (DPDK 22.11.x, OpenSSL 3.0.x, libsodium 1.0.x)" */
void ctl_print_version(FILE *out);

#endif /* DERPER_CONTROL_LIFECYCLE_H */
