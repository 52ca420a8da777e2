/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/keyed_hash.h"
#include "tls/heard.h"

struct heard_key {
	uint8_t key[DERP_KEY_LEN];
	uint32_t head;			/* first record, or HEARD_NONE */
	uint32_t count;			/* records; free-list link when free */
	uint32_t hash;
};

struct heard_rec {
	uint32_t key;			/* key slot */
	uint32_t id, gen;		/* the connection */
	uint32_t kprev, knext;		/* in the key's list */
	uint32_t cprev, cnext;		/* in the connection's list; free link */
};

/* Keyed: a client picks the keys it sends from (a mesh peer any source
 * key), so their bytes cannot index the table directly. */
static uint32_t
hash_key(const uint8_t *k)
{
	return (uint32_t)keyed_hash32(k);
}

void
heard_init(struct heard_index *h)
{
	memset(h, 0, sizeof(*h));
	h->free_key = HEARD_NONE;
	h->free_rec = HEARD_NONE;
}

void
heard_uninit(struct heard_index *h)
{
	free(h->keys);
	free(h->recs);
	free(h->table);
	heard_init(h);
}

static uint32_t
lookup(const struct heard_index *h, const uint8_t *key, uint32_t hash)
{
	if (!h->table)
		return HEARD_NONE;
	for (uint32_t i = hash & h->table_mask;; i = (i + 1) & h->table_mask) {
		uint32_t s = h->table[i];

		if (s == HEARD_NONE)
			return HEARD_NONE;
		if (h->keys[s].hash == hash &&
		    memcmp(h->keys[s].key, key, DERP_KEY_LEN) == 0)
			return s;
	}
}

static void
table_insert(uint32_t *table, uint32_t mask, uint32_t hash, uint32_t slot)
{
	uint32_t i = hash & mask;

	while (table[i] != HEARD_NONE)
		i = (i + 1) & mask;
	table[i] = slot;
}

/* Keep the load factor under 1/2. */
static int
table_grow(struct heard_index *h)
{
	uint32_t size = h->table ? (h->table_mask + 1) * 2 : 64;
	uint32_t *t;

	if ((h->nb_keys + 1) * 2 <= (h->table ? h->table_mask + 1 : 0))
		return 0;
	t = malloc(sizeof(*t) * size);
	if (!t)
		return -ENOMEM;
	memset(t, 0xff, sizeof(*t) * size);
	for (uint32_t i = 0; h->table && i <= h->table_mask; i++)
		if (h->table[i] != HEARD_NONE)
			table_insert(t, size - 1, h->keys[h->table[i]].hash,
				     h->table[i]);
	free(h->table);
	h->table = t;
	h->table_mask = size - 1;
	return 0;
}

/* Backward-shift deletion keeps linear probing chains intact. */
static void
table_remove(struct heard_index *h, uint32_t slot)
{
	uint32_t mask = h->table_mask;
	uint32_t i = h->keys[slot].hash & mask;

	while (h->table[i] != slot)
		i = (i + 1) & mask;
	for (uint32_t j = (i + 1) & mask; h->table[j] != HEARD_NONE;
	     j = (j + 1) & mask) {
		uint32_t home = h->keys[h->table[j]].hash & mask;

		/* move j back to i unless its home lies in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			h->table[i] = h->table[j];
			i = j;
		}
	}
	h->table[i] = HEARD_NONE;
}

static uint32_t
key_alloc(struct heard_index *h, const uint8_t *key, uint32_t hash)
{
	uint32_t s;

	if (table_grow(h))
		return HEARD_NONE;
	if (h->free_key != HEARD_NONE) {
		s = h->free_key;
		h->free_key = h->keys[s].count;
	} else {
		if (h->nb_keys == h->cap_keys) {
			uint32_t cap = h->cap_keys ? h->cap_keys * 2 : 64;
			struct heard_key *k = realloc(h->keys, sizeof(*k) * cap);

			if (!k)
				return HEARD_NONE;
			h->keys = k;
			h->cap_keys = cap;
		}
		/* slots below nb_keys + free list cover [0, cap) lazily */
		s = h->nb_keys;
	}
	h->nb_keys++;
	memcpy(h->keys[s].key, key, DERP_KEY_LEN);
	h->keys[s].head = HEARD_NONE;
	h->keys[s].count = 0;
	h->keys[s].hash = hash;
	table_insert(h->table, h->table_mask, hash, s);
	return s;
}

static void
key_free(struct heard_index *h, uint32_t s)
{
	table_remove(h, s);
	h->keys[s].count = h->free_key;
	h->free_key = s;
	h->nb_keys--;
}

static uint32_t
rec_alloc(struct heard_index *h)
{
	uint32_t r;

	if (h->free_rec != HEARD_NONE) {
		r = h->free_rec;
		h->free_rec = h->recs[r].cnext;
	} else {
		if (h->nb_recs == h->cap_recs) {
			uint32_t cap = h->cap_recs ? h->cap_recs * 2 : 256;
			struct heard_rec *n = realloc(h->recs, sizeof(*n) * cap);

			if (!n)
				return HEARD_NONE;
			h->recs = n;
			h->cap_recs = cap;
		}
		r = h->nb_recs;
	}
	h->nb_recs++;
	return r;
}

static void
rec_free(struct heard_index *h, uint32_t r)
{
	h->recs[r].cnext = h->free_rec;
	h->free_rec = r;
	h->nb_recs--;
}

static bool
present(const struct heard_index *h, const struct heard_conn *c, uint32_t id,
	uint32_t gen, uint32_t ks)
{
	if (c->count <= h->keys[ks].count) {
		for (uint32_t r = c->head; r != HEARD_NONE; r = h->recs[r].cnext)
			if (h->recs[r].key == ks)
				return true;
		return false;
	}
	for (uint32_t r = h->keys[ks].head; r != HEARD_NONE; r = h->recs[r].knext)
		if (h->recs[r].id == id && h->recs[r].gen == gen)
			return true;
	return false;
}

int
heard_add(struct heard_index *h, struct heard_conn *c, uint32_t id,
	  uint32_t gen, const uint8_t key[DERP_KEY_LEN])
{
	uint32_t hash = hash_key(key);
	uint32_t ks, r;

	if (c->last_key != HEARD_NONE &&
	    memcmp(h->keys[c->last_key].key, key, DERP_KEY_LEN) == 0)
		return 0;
	ks = lookup(h, key, hash);
	if (ks == HEARD_NONE) {
		ks = key_alloc(h, key, hash);
		if (ks == HEARD_NONE)
			return -ENOMEM;
	} else if (present(h, c, id, gen, ks)) {
		c->last_key = ks;
		return 0;
	}
	r = rec_alloc(h);
	if (r == HEARD_NONE) {
		if (h->keys[ks].count == 0)
			key_free(h, ks);
		return -ENOMEM;
	}
	h->recs[r] = (struct heard_rec){
		.key = ks, .id = id, .gen = gen, .kprev = HEARD_NONE,
		.knext = h->keys[ks].head, .cprev = HEARD_NONE,
		.cnext = c->head,
	};
	if (h->keys[ks].head != HEARD_NONE)
		h->recs[h->keys[ks].head].kprev = r;
	if (c->head != HEARD_NONE)
		h->recs[c->head].cprev = r;
	h->keys[ks].head = r;
	h->keys[ks].count++;
	c->head = r;
	c->count++;
	c->last_key = ks;
	return 0;
}

void
heard_take(struct heard_index *h, const uint8_t key[DERP_KEY_LEN],
	   struct heard_conn *(*cb)(void *ctx, uint32_t id, uint32_t gen),
	   void *ctx)
{
	uint32_t ks = lookup(h, key, hash_key(key));
	uint32_t r;

	if (ks == HEARD_NONE)
		return;
	r = h->keys[ks].head;
	while (r != HEARD_NONE) {
		struct heard_rec *rec = &h->recs[r];
		uint32_t next = rec->knext;
		struct heard_conn *c = cb(ctx, rec->id, rec->gen);

		/* c is never NULL: a connection's records go at its close */
		if (c) {
			if (rec->cprev != HEARD_NONE)
				h->recs[rec->cprev].cnext = rec->cnext;
			else
				c->head = rec->cnext;
			if (rec->cnext != HEARD_NONE)
				h->recs[rec->cnext].cprev = rec->cprev;
			c->count--;
			if (c->last_key == ks)
				c->last_key = HEARD_NONE;
		}
		rec_free(h, r);
		r = next;
	}
	h->keys[ks].head = HEARD_NONE;
	h->keys[ks].count = 0;
	key_free(h, ks);
}

void
heard_forget(struct heard_index *h, struct heard_conn *c)
{
	uint32_t r = c->head;

	while (r != HEARD_NONE) {
		struct heard_rec *rec = &h->recs[r];
		uint32_t next = rec->cnext;
		uint32_t ks = rec->key;

		if (rec->kprev != HEARD_NONE)
			h->recs[rec->kprev].knext = rec->knext;
		else
			h->keys[ks].head = rec->knext;
		if (rec->knext != HEARD_NONE)
			h->recs[rec->knext].kprev = rec->kprev;
		if (--h->keys[ks].count == 0)
			key_free(h, ks);
		rec_free(h, r);
		r = next;
	}
	*c = (struct heard_conn)HEARD_CONN_INIT;
}
