/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Who heard from whom, per TLS thread, for PeerGone(Disconnected)
 * (docs/protocol.md §6.8): whenever a RecvPacket from `src` is written to
 * connection C, C is recorded as having heard from src, once per (C, src).
 * When src's last connection in the region goes, every C still recorded
 * gets PeerGone(src). A connection's records go when it closes.
 *
 * Storage: stable arrays with free lists (indices never move) and an
 * open-addressing hash from key to key slot. Records of one key form a
 * doubly linked list (taken all at once), records of one connection
 * another (dropped all at once on close). Membership is
 * checked by walking the shorter of the two lists, after a one-entry cache
 * per connection that catches the common case of a steady pair.
 * Owned by one TLS thread; no locks.
 */
#ifndef DERPER_TLS_HEARD_H
#define DERPER_TLS_HEARD_H

#include <stdint.h>

#include "tls/derp_wire.h"

#define HEARD_NONE UINT32_MAX

struct heard_key;
struct heard_rec;

struct heard_index {
	struct heard_key *keys;
	uint32_t nb_keys, cap_keys, free_key;
	struct heard_rec *recs;
	uint32_t nb_recs, cap_recs, free_rec;
	uint32_t *table;		/* key slot or HEARD_NONE */
	uint32_t table_mask;		/* size - 1 (power of two) */
};

/* Per connection: its list head, its length and the one-entry cache. */
struct heard_conn {
	uint32_t head;
	uint32_t count;
	uint32_t last_key;		/* key slot of the last add */
};

#define HEARD_CONN_INIT {HEARD_NONE, 0, HEARD_NONE}

void heard_init(struct heard_index *h);
void heard_uninit(struct heard_index *h);

/* Record that connection (id, gen) heard from key. 0 or -ENOMEM. */
int heard_add(struct heard_index *h, struct heard_conn *c, uint32_t id,
	      uint32_t gen, const uint8_t key[DERP_KEY_LEN]);

/*
 * Remove every record of `key`, calling cb(ctx, id, gen) for each; cb
 * returns that connection's struct heard_conn (records only exist for
 * open connections, since heard_forget() runs at close).
 */
void heard_take(struct heard_index *h, const uint8_t key[DERP_KEY_LEN],
		struct heard_conn *(*cb)(void *ctx, uint32_t id, uint32_t gen),
		void *ctx);

/* Remove every record of a closing connection. */
void heard_forget(struct heard_index *h, struct heard_conn *c);

/* Records in the index (tests, metrics). */
static inline uint32_t
heard_records(const struct heard_index *h)
{
	return h->nb_recs;
}

#endif /* DERPER_TLS_HEARD_H */
