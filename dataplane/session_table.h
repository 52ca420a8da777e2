/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Public key -> where its packets go. Written and read only by the
 * forwarding lcore (its single owner), so no locks and no RCU.
 *
 * A key is known locally (one or more client connections on our TLS
 * threads) and/or through regional mesh links (our outbound connections to
 * sibling relays that announced it with PeerPresent). Local always wins.
 *
 * A key normally has one connection. derper accepts duplicates (§6.9): all
 * stay open, the newest or the one that spoke last is "active" and gets the
 * key's packets. We keep up to DP_DUP_MAX connections per key in recency
 * order (conns[0] is active); one more evicts the least recent, which is
 * closed (derper keeps them all; bounded memory matters more here).
 *
 * Mesh links per key are kept in registration order: the first registered
 * is preferred; when it goes, the next takes over (§7.3; derper picks the
 * lowest remaining index, which for links added in order is the same).
 */
#ifndef DERPER_DATAPLANE_SESSION_TABLE_H
#define DERPER_DATAPLANE_SESSION_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/ring_msg.h"

enum {
	DP_DUP_MAX = 4,
	DP_FWD_MAX = 8,		/* mesh links announcing one key */
};

struct dp_sess_ref {
	uint16_t tls;
	uint32_t id;
	uint32_t gen;
};

struct dp_peer {
	uint8_t key[DP_KEY_LEN];
	bool used;
	uint8_t nb;			/* local connections, 0..DP_DUP_MAX */
	uint8_t nb_fwd;			/* mesh links, 0..DP_FWD_MAX */
	uint8_t flags[DP_DUP_MAX];	/* DP_SESS_* per connection */
	uint8_t fwd[DP_FWD_MAX];	/* link ids, preferred first */
	uint16_t port[DP_DUP_MAX];	/* remote address per connection */
	uint8_t ip[DP_DUP_MAX][16];
	struct dp_sess_ref conns[DP_DUP_MAX];	/* recency order: [0] active */
};

struct rte_hash;

struct dp_session_table {
	struct rte_hash *h;
	struct dp_peer *peers;		/* indexed by the hash's key position */
	uint32_t nb_pos;		/* entries of `peers` */
	uint32_t capacity;
	uint32_t nb_keys;
};

/* What a change did, for the messages the caller sends. */
struct dp_session_change {
	bool added_key;			/* the key is new to the table */
	bool removed_key;		/* the key is gone: not local, no link */
	bool last_local;		/* its last local connection left */
	bool was_active;		/* the removed connection was active */
	bool evicted;			/* `evict` must be closed */
	struct dp_sess_ref evict;
};

/* Create for `capacity` keys on NUMA `socket`. Returns 0 or -errno.
 * Control thread, before the lcore starts. */
int dp_session_table_init(struct dp_session_table *t, const char *name,
			  uint32_t capacity, int socket);
void dp_session_table_uninit(struct dp_session_table *t);

/* The entry of a key, or NULL. Owner lcore only (as all below). */
struct dp_peer *dp_session_lookup(const struct dp_session_table *t,
				  const uint8_t key[DP_KEY_LEN]);

/* Register a connection with its flags and address; it becomes active.
 * -ENOSPC when the table is full (nothing changed). */
int dp_session_add(struct dp_session_table *t, const uint8_t key[DP_KEY_LEN],
		   const struct dp_sess_ref *ref, uint8_t flags,
		   const uint8_t ip[16], uint16_t port,
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

/* Mesh link `link` announced `key`. -ENOSPC when the table is full. */
int dp_session_fwd_add(struct dp_session_table *t,
		       const uint8_t key[DP_KEY_LEN], uint8_t link,
		       struct dp_session_change *chg);

/* Mesh link `link` no longer has `key`. -ENOENT if it had not said so. */
int dp_session_fwd_del(struct dp_session_table *t,
		       const uint8_t key[DP_KEY_LEN], uint8_t link,
		       struct dp_session_change *chg);

/* The entry at table position `pos` if in use (for walks: link down,
 * WatchConns dumps), else NULL. */
static inline struct dp_peer *
dp_session_at(const struct dp_session_table *t, uint32_t pos)
{
	return pos < t->nb_pos && t->peers[pos].used ? &t->peers[pos] : NULL;
}

static inline bool
dp_sess_ref_eq(const struct dp_sess_ref *a, const struct dp_sess_ref *b)
{
	return a->tls == b->tls && a->id == b->id && a->gen == b->gen;
}

#endif /* DERPER_DATAPLANE_SESSION_TABLE_H */
