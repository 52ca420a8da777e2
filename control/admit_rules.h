/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper's admission rules (docs/protocol.md §8), as pure functions of
 * what a check answered: unit-tested and fuzzed, no I/O.
 */
#ifndef DERPER_CONTROL_ADMIT_RULES_H
#define DERPER_CONTROL_ADMIT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/admit.h"

enum { ADMIT_WEBHOOK_BODY_MAX = 4 << 10 };	/* derper reads this much */

struct admit_outcome {
	uint8_t verdict;	/* enum admit_verdict */
	uint8_t reason;		/* enum admit_reason */
	bool cache;		/* an answer, not a transport error: remember it */
};

/* LocalAPI whois: `reached` is false on any socket or transport error. */
struct admit_outcome admit_decide_localapi(bool reached, long status,
					   const char *body, size_t len);

/* The webhook: `body` is at most ADMIT_WEBHOOK_BODY_MAX bytes. */
struct admit_outcome admit_decide_webhook(bool reached, long status,
					  const char *body, size_t len,
					  bool fail_open);

/*
 * tailscaled's /localapi/v0/status (every version): the node's own key and
 * its peers' keys, as verify.clients admits them where whois by node key is
 * not answered (before v1.70). Reads Self.PublicKey and every key of the
 * Peer object (and each peer's PublicKey), "nodekey:<64 hex>"; other
 * members are ignored. Writes up to `max` keys to keys, sorted, duplicates
 * removed, their number to *n. 0, or -EINVAL when the body is not such an
 * object (or has no Self key), -E2BIG when more than `max` keys.
 */
enum { ADMIT_STATUS_BODY_MAX = 64 << 20 };
int admit_parse_status(const char *body, size_t len, uint8_t (*keys)[32],
		       size_t max, size_t *n);

/* Is key in a sorted key list (admit_parse_status)? */
bool admit_key_in(const uint8_t (*keys)[32], size_t n, const uint8_t key[32]);

/* The webhook's "Source": IPv4 dotted, IPv6 without brackets, "" when the
 * address is unknown (all zero). */
void admit_source(const uint8_t ip[16], char *out, size_t len);

#endif /* DERPER_CONTROL_ADMIT_RULES_H */
