/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Public key -> the connections that hold it. Written and read only by the
 * forwarding lcore (its single owner), so no locks and no RCU.
 *
 * A key normally has one connection. derper accepts duplicates (§6.9): all
 * stay open, the newest or the one that spoke last is "active" and gets the
 * key's packets. We keep up to DP_DUP_MAX connections per key in recency
 * order (order[0] is active); one more evicts the least recent, which is
 * closed (derper keeps them all; bounded memory matters more here).
 */
#ifndef DERPER_DATAPLANE_SESSION_TABLE_H
#define DERPER_DATAPLANE_SESSION_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/ring_msg.h"

enum { DP_DUP_MAX = 4 };

struct dp_sess_ref {
	uint16_t tls;
	uint32_t id;
	uint32_t gen;
};

struct dp_peer {
	uint8_t key[DP_KEY_LEN];
	uint8_t nb;			/* connections, 1..DP_DUP_MAX */
	uint8_t flags[DP_DUP_MAX];	/* DP_SESS_* per connection */
	struct dp_sess_ref conns[DP_DUP_MAX];	/* recency order: [0] active */
};

struct rte_hash;

struct dp_session_table {
	struct rte_hash *h;
	struct dp_peer *peers;		/* indexed by the hash's key position */
	uint32_t capacity;
	uint32_t nb_keys;
};

/* What an add or remove changed, for the messages the caller sends. */
struct dp_session_change {
	bool added_key;			/* first connection of this key */
	bool removed_key;		/* last connection of this key left */
	bool was_active;		/* the removed connection was active */
	bool evicted;			/* `evict` must be closed */
	struct dp_sess_ref evict;
};

/* Create for `capacity` keys on NUMA `socket`. Returns 0 or -errno.
 * Control thread, before the lcore starts. */
int dp_session_table_init(struct dp_session_table *t, const char *name,
			  uint32_t capacity, int socket);
void dp_session_table_uninit(struct dp_session_table *t);

/* The peer entry for a key, or NULL. Owner lcore only (as all below). */
struct dp_peer *dp_session_lookup(const struct dp_session_table *t,
				  const uint8_t key[DP_KEY_LEN]);

/* Register a connection; it becomes active. -ENOSPC when the table is
 * full (nothing changed). */
int dp_session_add(struct dp_session_table *t, const uint8_t key[DP_KEY_LEN],
		   const struct dp_sess_ref *ref, uint8_t flags,
		   struct dp_session_change *chg);

/* Unregister a connection. -ENOENT if it was not registered (a stale or
 * duplicate message). */
int dp_session_remove(struct dp_session_table *t,
		      const uint8_t key[DP_KEY_LEN],
		      const struct dp_sess_ref *ref,
		      struct dp_session_change *chg);

/* Make a registered connection the active one. -ENOENT if unknown. */
int dp_session_activate(struct dp_session_table *t,
			const uint8_t key[DP_KEY_LEN],
			const struct dp_sess_ref *ref);

static inline bool
dp_sess_ref_eq(const struct dp_sess_ref *a, const struct dp_sess_ref *b)
{
	return a->tls == b->tls && a->id == b->id && a->gen == b->gen;
}

#endif /* DERPER_DATAPLANE_SESSION_TABLE_H */
