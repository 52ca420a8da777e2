/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cert.mode = "letsencrypt": an ACME (RFC 8555) client on its own control
 * thread. It keeps an account key (ECDSA P-256, <cert.dir>/acme_account.key),
 * orders a certificate for `hostname` when none is stored or a third of the
 * stored one's lifetime is left (minus jitter), proves control with
 * HTTP-01 on the port-80 listener, or TLS-ALPN-01 on the TLS port when
 * http_port is -1, writes <cert.dir>/<hostname>.crt|.key atomically and
 * publishes a new TLS context (tls_server_set_ctx): new handshakes get the
 * new certificate, established sessions are untouched. On failure the
 * current certificate stays in service and the next try backs off (1 min
 * doubling to 30 min, jittered). Blocking libcurl and OpenSSL calls happen
 * here only, never on a TLS thread.
 *
 * Telemetry: /derper/acme (state), /derper/acme_renew (renew now).
 */
#ifndef DERPER_CONTROL_ACME_H
#define DERPER_CONTROL_ACME_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* After tls_server_start(): challenges need the listeners. No-op unless
 * cert.mode is letsencrypt and TLS is served. 0 or -errno. */
int ctl_acme_start(const struct derper_config *cfg);

/* Stop and join (an HTTP request in flight is aborted). */
void ctl_acme_stop(void);

/* Certificate expiry and ACME state as metrics; ready once an ACME
 * certificate is in service (always, outside letsencrypt mode). */
struct prom;
void ctl_acme_metrics(struct prom *p);
bool ctl_acme_ready(char *why, size_t n);

#endif /* DERPER_CONTROL_ACME_H */
