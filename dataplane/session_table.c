/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>

#include "base/keyed_hash.h"
#include "dataplane/session_table.h"

/* rte_hash's hash function: SipHash under the process's key, since the
 * keys are chosen by clients (a plain jhash lets them aim at a bucket). */
static uint32_t
keyed(const void *key, uint32_t len, uint32_t init_val)
{
	(void)len;
	(void)init_val;
	return (uint32_t)keyed_hash32(key);
}

int
dp_session_table_init(struct dp_session_table *t, const char *name,
		      uint32_t capacity, int socket)
{
	struct rte_hash_parameters p = {
		.name = name,
		.entries = capacity,
		.key_len = DP_KEY_LEN,
		.hash_func = keyed,
		.socket_id = socket,
		/* single writer, single reader: the owner lcore */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};

	memset(t, 0, sizeof(*t));
	t->h = rte_hash_create(&p);
	if (!t->h)
		return -(rte_errno ? rte_errno : ENOMEM);
	/* rte_hash positions range over entries plus its internal slack */
	t->capacity = capacity;
	t->nb_pos = (uint32_t)rte_hash_max_key_id(t->h) + 1;
	t->peers = rte_zmalloc_socket("dp_peers", sizeof(*t->peers) * t->nb_pos,
				      64, socket);
	if (!t->peers) {
		rte_hash_free(t->h);
		t->h = NULL;
		return -ENOMEM;
	}
	return 0;
}

void
dp_session_table_uninit(struct dp_session_table *t)
{
	rte_free(t->peers);
	rte_hash_free(t->h);
	memset(t, 0, sizeof(*t));
}

struct dp_peer *
dp_session_lookup(const struct dp_session_table *t,
		  const uint8_t key[DP_KEY_LEN])
{
	int32_t pos = rte_hash_lookup(t->h, key);

	return pos < 0 ? NULL : &t->peers[pos];
}

/* The entry for key, created if absent. NULL when the table is full. */
static struct dp_peer *
get_or_add(struct dp_session_table *t, const uint8_t key[DP_KEY_LEN],
	   struct dp_session_change *chg)
{
	int32_t pos = rte_hash_lookup(t->h, key);
	struct dp_peer *p;

	if (pos >= 0)
		return &t->peers[pos];
	if (t->nb_keys >= t->capacity)
		return NULL;
	pos = rte_hash_add_key(t->h, key);
	if (pos < 0)
		return NULL;
	p = &t->peers[pos];
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, DP_KEY_LEN);
	p->used = true;
	t->nb_keys++;
	chg->added_key = true;
	return p;
}

/* Drop the entry once nothing points anywhere. */
static void
maybe_delete(struct dp_session_table *t, struct dp_peer *p,
	     struct dp_session_change *chg)
{
	if (p->nb || p->nb_fwd)
		return;
	rte_hash_del_key(t->h, p->key);
	p->used = false;
	t->nb_keys--;
	chg->removed_key = true;
}

static int
find_conn(const struct dp_peer *p, const struct dp_sess_ref *ref)
{
	for (int i = 0; i < p->nb; i++)
		if (dp_sess_ref_eq(&p->conns[i], ref))
			return i;
	return -1;
}

/* Move connection i to the front (most recent), with its attributes. */
static void
promote(struct dp_peer *p, int i)
{
	struct dp_sess_ref r = p->conns[i];
	uint8_t f = p->flags[i], ip[16];
	uint16_t port = p->port[i];

	memcpy(ip, p->ip[i], 16);
	memmove(&p->conns[1], &p->conns[0], sizeof(p->conns[0]) * (size_t)i);
	memmove(&p->flags[1], &p->flags[0], (size_t)i);
	memmove(&p->port[1], &p->port[0], sizeof(p->port[0]) * (size_t)i);
	memmove(&p->ip[1], &p->ip[0], sizeof(p->ip[0]) * (size_t)i);
	p->conns[0] = r;
	p->flags[0] = f;
	p->port[0] = port;
	memcpy(p->ip[0], ip, 16);
}

int
dp_session_add(struct dp_session_table *t, const uint8_t key[DP_KEY_LEN],
	       const struct dp_sess_ref *ref, uint8_t flags,
	       const uint8_t ip[16], uint16_t port,
	       struct dp_session_change *chg)
{
	struct dp_peer *p;
	int i;

	memset(chg, 0, sizeof(*chg));
	p = get_or_add(t, key, chg);
	if (!p)
		return -ENOSPC;
	if (find_conn(p, ref) >= 0)
		return 0;	/* already registered */
	if (p->nb == DP_DUP_MAX) {
		chg->evicted = true;
		chg->evict = p->conns[DP_DUP_MAX - 1];
		p->nb--;
	}
	i = p->nb++;
	p->conns[i] = *ref;
	p->flags[i] = flags;
	p->port[i] = port;
	memcpy(p->ip[i], ip, 16);
	promote(p, i);
	return 0;
}

int
dp_session_remove(struct dp_session_table *t, const uint8_t key[DP_KEY_LEN],
		  const struct dp_sess_ref *ref, struct dp_session_change *chg)
{
	struct dp_peer *p = dp_session_lookup(t, key);
	int i, rest;

	memset(chg, 0, sizeof(*chg));
	if (!p)
		return -ENOENT;
	i = find_conn(p, ref);
	if (i < 0)
		return -ENOENT;
	chg->was_active = i == 0;
	rest = p->nb - i - 1;
	memmove(&p->conns[i], &p->conns[i + 1], sizeof(p->conns[0]) * (size_t)rest);
	memmove(&p->flags[i], &p->flags[i + 1], (size_t)rest);
	memmove(&p->port[i], &p->port[i + 1], sizeof(p->port[0]) * (size_t)rest);
	memmove(&p->ip[i], &p->ip[i + 1], sizeof(p->ip[0]) * (size_t)rest);
	p->nb--;
	chg->last_local = p->nb == 0;
	maybe_delete(t, p, chg);
	return 0;
}

int
dp_session_activate(struct dp_session_table *t, const uint8_t key[DP_KEY_LEN],
		    const struct dp_sess_ref *ref)
{
	struct dp_peer *p = dp_session_lookup(t, key);
	int i;

	if (!p)
		return -ENOENT;
	i = find_conn(p, ref);
	if (i < 0)
		return -ENOENT;
	promote(p, i);
	return 0;
}

int
dp_session_fwd_add(struct dp_session_table *t, const uint8_t key[DP_KEY_LEN],
		   uint8_t link, struct dp_session_change *chg)
{
	struct dp_peer *p;

	memset(chg, 0, sizeof(*chg));
	p = get_or_add(t, key, chg);
	if (!p)
		return -ENOSPC;
	for (int i = 0; i < p->nb_fwd; i++)
		if (p->fwd[i] == link)
			return 0;
	if (p->nb_fwd == DP_FWD_MAX)
		return 0;	/* eight links know it already: enough */
	p->fwd[p->nb_fwd++] = link;
	return 0;
}

int
dp_session_fwd_del(struct dp_session_table *t, const uint8_t key[DP_KEY_LEN],
		   uint8_t link, struct dp_session_change *chg)
{
	struct dp_peer *p = dp_session_lookup(t, key);

	memset(chg, 0, sizeof(*chg));
	if (!p)
		return -ENOENT;
	for (int i = 0; i < p->nb_fwd; i++) {
		if (p->fwd[i] != link)
			continue;
		memmove(&p->fwd[i], &p->fwd[i + 1], (size_t)(p->nb_fwd - i - 1));
		p->nb_fwd--;
		maybe_delete(t, p, chg);
		return 0;
	}
	return -ENOENT;
}
