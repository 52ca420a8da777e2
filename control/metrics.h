/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The operator's listener on metrics.listen (loopback by default, never
 * the public port), one control thread:
 *   GET /metrics  Prometheus text (format 0.0.4): sessions, closes by
 *                 reason, relayed packets and bytes, drops by stage and
 *                 reason, send queue depth and ping RTT histograms, STUN
 *                 and exception-path counters per lcore, mempool and ring
 *                 occupancy, admission, mesh links, certificate expiry,
 *                 build info.
 *   GET /healthz  200 while the process serves requests (liveness).
 *   GET /readyz   200 when the TLS listener and the dataplane are up, a
 *                 real certificate is in service (ACME mode) and every
 *                 mesh link has had its first try; 503 with the reason
 *                 otherwise. ?verbose lists every check.
 * One request per connection, bounded in size and time.
 */
#ifndef DERPER_CONTROL_METRICS_H
#define DERPER_CONTROL_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* After every other part has started; no-op when metrics.listen is "".
 * 0 or -errno (logged). */
int ctl_metrics_start(const struct derper_config *cfg);
void ctl_metrics_stop(void);

/* The exposition text, Prometheus 0.0.4 or OpenMetrics 1.0 (chosen by the
 * request's Accept header); caller frees. */
char *ctl_metrics_text(size_t *len, bool openmetrics);

#endif /* DERPER_CONTROL_METRICS_H */
