/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What crosses between a TLS thread and the admission thread (control/
 * admit.c): one SP/SC ring of requests and one of verdicts per TLS thread.
 * A TLS thread parks a session in "verifying", enqueues its key and address,
 * and kicks the admission thread; the verdict comes back by (id, gen) and
 * wakes the TLS thread. The TLS layer owns this interface; control
 * implements the other end.
 */
#ifndef DERPER_TLS_ADMIT_LINK_H
#define DERPER_TLS_ADMIT_LINK_H

#include <stdint.h>

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

/* A TLS thread's end of its ring pair with the admission thread. */
struct admit_link {
	struct rte_ring *req;		/* TLS thread produces */
	struct rte_ring *resp;		/* TLS thread consumes */
	struct dp_wake *admit_wake;	/* kick the admission thread */
};

#endif /* DERPER_TLS_ADMIT_LINK_H */
