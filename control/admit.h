/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client admission (derp-protocol.md §8): verify.clients asks the local
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
#include "dataplane/wake.h"

struct rte_ring;

/* Requests a TLS thread may have out at once (each gets one reply, so the
 * reply ring never overflows). */
enum { ADMIT_RING_SIZE = 16384 };

/* One ring element, both directions. */
struct admit_msg {
	uint32_t id, gen;	/* the session, on the TLS thread of the ring */
	uint8_t key[32];	/* the client's node key */
	uint8_t ip[16];		/* its address, IPv4 as ::ffff:a.b.c.d */
	uint8_t verdict;	/* reply: enum admit_verdict */
	uint8_t reason;		/* reply: enum admit_reason */
	uint16_t pad;
	uint32_t pad2;
};

enum admit_verdict { ADMIT_REJECT, ADMIT_ALLOW };

enum admit_reason {
	ADMIT_OK,		/* admitted by every check */
	ADMIT_FAIL_OPEN,	/* webhook unreachable, verify.url_fail_open */
	ADMIT_UNKNOWN_KEY,	/* LocalAPI 404: not in the tailnet */
	ADMIT_VERSION_SKEW,	/* LocalAPI 400 invalid 'addr': tailscaled too old */
	ADMIT_LOCALAPI_STATUS,	/* any other LocalAPI status, or a bad body */
	ADMIT_LOCALAPI_DOWN,	/* socket error: fails closed */
	ADMIT_WEBHOOK_DENY,	/* 200 with Allow false or missing */
	ADMIT_WEBHOOK_STATUS,	/* a status other than 200 */
	ADMIT_WEBHOOK_BODY,	/* 200 with an undecodable body */
	ADMIT_WEBHOOK_DOWN,	/* transport error, fail-open off */
	ADMIT_TIMEOUT,		/* no verdict within verify.timeout_s */
	ADMIT_OVERLOAD,		/* too many lookups in flight */
	ADMIT_REASON_NB
};

const char *admit_reason_name(int reason);

/* A TLS thread's end of its ring pair with the admission thread. */
struct admit_link {
	struct rte_ring *req;		/* TLS thread produces */
	struct rte_ring *resp;		/* TLS thread consumes */
	struct dp_wake *admit_wake;	/* kick the admission thread */
};

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

/* Admission counters as metrics (nothing when admission is off). */
struct prom;
void ctl_admit_metrics(struct prom *p);

#endif /* DERPER_CONTROL_ADMIT_H */
