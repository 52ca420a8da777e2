/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message handlers of the forwarding lcore. Each consumes the mbuf it is
 * given: it is either re-addressed and staged for a TLS thread (a SEND
 * becomes a DELIVER in place, an unknown disco destination becomes a
 * PeerGone(NotHere) for the sender) or freed with exactly one drop reason
 * counted. Notices that need a second message take a fresh mbuf from the
 * pool; when the pool is empty that notice is dropped and counted.
 *
 * Regional mesh (docs/protocol.md §7): a key unknown locally but announced
 * by an outbound mesh link goes to that link's thread as DP_MSG_FORWARD;
 * links announce and withdraw keys with FWD_ADD/FWD_DEL and forget all of
 * theirs with LINK_DOWN. Watchers (mesh peers that sent WatchConns) get a
 * PeerPresent for every local key, dumped incrementally, then one per
 * registration and a PeerGone per last local unregistration.
 */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/forward.h"
#include "dataplane/test_hooks.h"

static void
stage(struct dp_lcore *lc, unsigned int tls, struct rte_mbuf *m)
{
	struct dp_tls_peer *p;

	if (unlikely(tls >= lc->nb_ep)) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_BAD_MSG);
		rte_pktmbuf_free(m);
		return;
	}
	p = &lc->tls[tls];
	if (p->nb_stage == DP_STAGE)
		dp_forward_flush(lc);
	/* the ring's last eighth is for one-mbuf packets and control
	 * messages (a full TLS thread must still get a small packet) */
	if (unlikely(m->nb_segs > 1) &&
	    rte_ring_free_count(p->tx) < rte_ring_get_capacity(p->tx) / 8 + p->nb_stage) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_RING_FULL);
		rte_pktmbuf_free(m);
		return;
	}
	p->stage[p->nb_stage++] = m;
}

/* A message with no payload, from the pool. */
static struct rte_mbuf *
notice(struct dp_lcore *lc)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->pool);

	if (unlikely(!m))
		DP_COUNT_DROP(&lc->cnt, DP_DROP_NO_MBUF);
	return m;
}

/* Turn a message into a bare notice: drop any payload segments. */
static void
strip(struct rte_mbuf *m)
{
	if (m->next) {
		rte_pktmbuf_free(m->next);
		m->next = NULL;
	}
	rte_pktmbuf_reset(m);
}

static void
set_ref(struct dp_msg *d, const struct dp_sess_ref *r)
{
	d->tls = r->tls;
	d->id = r->id;
	d->gen = r->gen;
}

/* Tell a connection its duplicate state; reuses `m` when given. */
static void
send_dup(struct dp_lcore *lc, struct rte_mbuf *m, const struct dp_sess_ref *r,
	 const uint8_t *key, uint8_t flags)
{
	struct dp_msg *d;

	if (!m)
		m = notice(lc);
	if (!m)
		return;
	strip(m);
	d = dp_msg(m);
	d->type = DP_MSG_DUP;
	d->flags = flags;
	set_ref(d, r);
	memcpy(d->key, key, DP_KEY_LEN);
	stage(lc, r->tls, m);
}

static void
send_close(struct dp_lcore *lc, struct rte_mbuf *m, const struct dp_sess_ref *r,
	   uint8_t reason)
{
	struct dp_msg *d;

	if (!m)
		m = notice(lc);
	if (!m)
		return;
	strip(m);
	d = dp_msg(m);
	d->type = DP_MSG_CLOSE;
	d->flags = reason;
	set_ref(d, r);
	stage(lc, r->tls, m);
}

/* ------------------------------------------------------------------ */
/* Watchers                                                             */

static struct dp_watcher *
find_watcher(struct dp_lcore *lc, const struct dp_sess_ref *r)
{
	for (unsigned int i = 0; i < lc->nb_watch; i++)
		if (lc->watch[i].used && dp_sess_ref_eq(&lc->watch[i].ref, r))
			return &lc->watch[i];
	return NULL;
}

/* PeerPresent(key) for connection i of p to watcher w. */
static bool
send_present(struct dp_lcore *lc, const struct dp_watcher *w,
	     const struct dp_peer *p, int i)
{
	struct rte_mbuf *m = notice(lc);
	struct dp_msg *d;

	if (!m)
		return false;
	d = dp_msg(m);
	d->type = DP_MSG_PEER_PRESENT;
	d->flags = p->flags[i];
	set_ref(d, &w->ref);
	d->port = p->port[i];
	memcpy(d->key, p->key, DP_KEY_LEN);
	memcpy(d->ip, p->ip[i], sizeof(d->ip));
	DP_COUNT(&lc->cnt, watch_present, 1);
	stage(lc, w->ref.tls, m);
	return true;
}

/* A new local connection: every watcher hears of it, duplicates too. */
static void
watchers_present(struct dp_lcore *lc, const struct dp_peer *p)
{
	for (unsigned int i = 0; i < lc->nb_watch; i++)
		if (lc->watch[i].used)
			send_present(lc, &lc->watch[i], p, 0);
}

/* The key's last local connection left: PeerGone(key, 0) to watchers. */
static void
watchers_gone(struct dp_lcore *lc, const uint8_t *key)
{
	for (unsigned int i = 0; i < lc->nb_watch; i++) {
		struct dp_watcher *w = &lc->watch[i];
		struct rte_mbuf *m;
		struct dp_msg *d;

		if (!w->used || !(m = notice(lc)))
			continue;
		d = dp_msg(m);
		d->type = DP_MSG_WATCH_GONE;
		d->flags = DP_GONE_DISCONNECTED;
		set_ref(d, &w->ref);
		memcpy(d->key, key, DP_KEY_LEN);
		DP_COUNT(&lc->cnt, watch_gone, 1);
		stage(lc, w->ref.tls, m);
	}
}

static void
watcher_remove(struct dp_lcore *lc, struct dp_watcher *w)
{
	if (w->dumping)
		lc->nb_dumping--;
	memset(w, 0, sizeof(*w));
	while (lc->nb_watch && !lc->watch[lc->nb_watch - 1].used)
		lc->nb_watch--;
}

static unsigned int dump_watcher(struct dp_lcore *lc, struct dp_watcher *w);

/* WatchConns: subscribe, and dump the table from the start. The first
 * part of the dump is staged at once, ahead of whatever the watcher sent
 * next (derper queues the whole dump before reading on). */
static void
handle_watch(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_sess_ref ref = {d->tls, d->id, d->gen};
	struct dp_watcher *w = find_watcher(lc, &ref);

	rte_pktmbuf_free(m);
	if (!w) {
		for (unsigned int i = 0; i < DP_WATCH_MAX && !w; i++)
			if (!lc->watch[i].used)
				w = &lc->watch[i];
		if (!w) {
			DP_COUNT_DROP(&lc->cnt, DP_DROP_WATCH_FULL);
			return;
		}
		w->used = true;
		w->ref = ref;
		if ((unsigned int)(w - lc->watch) >= lc->nb_watch)
			lc->nb_watch = (unsigned int)(w - lc->watch) + 1;
	}
	if (!w->dumping)
		lc->nb_dumping++;
	w->dumping = true;
	w->cursor = 0;
	dump_watcher(lc, w);
}

/* Continue w's dump as far as its ring has room (half of it is left for
 * everything else). Returns the PeerPresent messages staged. */
static unsigned int
dump_watcher(struct dp_lcore *lc, struct dp_watcher *w)
{
	struct dp_tls_peer *tp = &lc->tls[w->ref.tls];
	unsigned int cap = rte_ring_get_capacity(tp->tx);
	unsigned int room = rte_ring_free_count(tp->tx);
	unsigned int budget = DP_DUMP_BUDGET, sent = 0;

	room = room > cap / 2 + tp->nb_stage ? room - cap / 2 - tp->nb_stage : 0;
	if (budget > room)
		budget = room;
	while (sent < budget && w->cursor < lc->table->nb_pos) {
		const struct dp_peer *p = dp_session_at(lc->table, w->cursor);

		if (p && p->nb) {
			if (!send_present(lc, w, p, 0))
				return sent;	/* pool empty: try later */
			sent++;
		}
		w->cursor++;
	}
	if (w->cursor >= lc->table->nb_pos) {
		w->dumping = false;
		lc->nb_dumping--;
	}
	return sent;
}

/* Continue the dumps in progress. */
static unsigned int
dump_step(struct dp_lcore *lc)
{
	unsigned int sent = 0;

	for (unsigned int i = 0; i < lc->nb_watch; i++)
		if (lc->watch[i].used && lc->watch[i].dumping)
			sent += dump_watcher(lc, &lc->watch[i]);
	return sent;
}

/* ------------------------------------------------------------------ */
/* Local sessions                                                       */

/* `key` left the region (no local connection, no mesh link): every TLS
 * thread tells the connections that heard from it (§6.8). `m` (may be
 * NULL) is reused for the first message. */
static void
gone_from_region(struct dp_lcore *lc, struct rte_mbuf *m, const uint8_t *key)
{
	uint8_t k[DP_KEY_LEN];

	memcpy(k, key, DP_KEY_LEN);	/* `key` may live in `m` */
	for (unsigned int t = 0; t < lc->nb_tls; t++) {
		struct rte_mbuf *n = m ? m : notice(lc);
		struct dp_msg *nd;

		m = NULL;
		if (!n)
			continue;
		strip(n);
		nd = dp_msg(n);
		nd->type = DP_MSG_PEER_GONE_ALL;
		nd->flags = DP_GONE_DISCONNECTED;
		nd->tls = (uint16_t)t;
		nd->id = 0;	/* for every session of that thread */
		nd->gen = 0;
		memcpy(nd->key, k, DP_KEY_LEN);
		stage(lc, t, n);
	}
	if (m)
		rte_pktmbuf_free(m);
}

static void
handle_up(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_sess_ref ref = {d->tls, d->id, d->gen};
	struct dp_session_change chg;
	struct dp_peer *p;

	if (dp_session_add(lc->table, d->key, &ref, d->flags, d->ip, d->port,
			   &chg)) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_TABLE_FULL);
		send_close(lc, m, &ref, DP_CLOSE_TABLE_FULL);
		return;
	}
	DP_COUNT(&lc->cnt, sessions_up, 1);
	if (chg.evicted)
		send_close(lc, NULL, &chg.evict, DP_CLOSE_TOO_MANY_DUPS);
	p = dp_session_lookup(lc->table, d->key);
	if (lc->nb_watch)
		watchers_present(lc, p);
	if (p->nb == 1) {
		/* a single connection starts active: nothing to say */
		rte_pktmbuf_free(m);
		return;
	}
	/* the newcomer is active; the one it displaced is not any more */
	send_dup(lc, m, &p->conns[0], p->key, DP_DUP_SET | DP_DUP_ACTIVE);
	send_dup(lc, NULL, &p->conns[1], p->key, DP_DUP_SET);
}

static void
handle_down(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_sess_ref ref = {d->tls, d->id, d->gen};
	struct dp_session_change chg;
	struct dp_peer *p;

	if (lc->nb_watch) {
		struct dp_watcher *w = find_watcher(lc, &ref);

		if (w)
			watcher_remove(lc, w);
	}
	if (dp_session_remove(lc->table, d->key, &ref, &chg)) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_STALE_SESSION);
		rte_pktmbuf_free(m);
		return;
	}
	DP_COUNT(&lc->cnt, sessions_down, 1);
	if (chg.last_local && lc->nb_watch)
		watchers_gone(lc, d->key);
	if (chg.removed_key) {
		gone_from_region(lc, m, d->key);
		return;
	}
	p = dp_session_lookup(lc->table, d->key);
	if (p->nb == 1)
		send_dup(lc, m, &p->conns[0], p->key, DP_DUP_ACTIVE);
	else if (p->nb && chg.was_active)
		send_dup(lc, m, &p->conns[0], p->key,
			 DP_DUP_SET | DP_DUP_ACTIVE);
	else
		rte_pktmbuf_free(m);
}

/* A packet for a key with no local connection, or none at all. */
static void
send_unknown(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);

	DP_COUNT_DROP(&lc->cnt, d->flags & DP_PKT_FORWARDED
					? DP_DROP_UNKNOWN_DEST_ON_FWD
					: DP_DROP_UNKNOWN_DEST);
	if (!(d->flags & DP_PKT_DISCO)) {
		rte_pktmbuf_free(m);
		return;
	}
	/* back to the sender (or the mesh peer that forwarded it); its TLS
	 * thread rate-limits */
	strip(m);
	d->type = DP_MSG_PEER_GONE;
	d->flags = DP_GONE_NOT_HERE;
	DP_COUNT(&lc->cnt, not_here, 1);
	stage(lc, d->tls, m);
}

/* The idle policy counts each window's receivers and answers
 * (dataplane/spin_gate.h): a key's first bytes name a client, local or
 * not. */
static inline void
receiver(struct dp_lcore *lc, const struct dp_msg *d, const struct dp_peer *p)
{
	uint32_t src, dst;

	memcpy(&src, d->src, sizeof(src));
	memcpy(&dst, p->key, sizeof(dst));
	dp_spin_gate_delivered(&lc->gate, src, dst);
}

static void
handle_send(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_peer *p = dp_session_lookup(lc->table, d->key);

	if (likely(p && p->nb)) {
		d->type = DP_MSG_DELIVER;
		set_ref(d, &p->conns[0]);
		receiver(lc, d, p);
		DP_COUNT(&lc->cnt, forwarded, 1);
		stage(lc, d->tls, m);
		return;
	}
	/* not local: over the preferred mesh link, unless it came over one */
	if (p && p->nb_fwd && !(d->flags & DP_PKT_FORWARDED)) {
		d->type = DP_MSG_FORWARD;
		d->port = p->fwd[0];
		receiver(lc, d, p);
		DP_COUNT(&lc->cnt, mesh_forwarded, 1);
		stage(lc, lc->nb_tls + p->fwd[0], m);
		return;
	}
	send_unknown(lc, m);
}

/* ------------------------------------------------------------------ */
/* Mesh                                                                 */

/* A link's message: is its link id one we have? */
static bool
link_ok(struct dp_lcore *lc, struct rte_mbuf *m)
{
	if (likely(lc->nb_tls + dp_msg(m)->port < lc->nb_ep))
		return true;
	DP_COUNT_DROP(&lc->cnt, DP_DROP_BAD_MSG);
	rte_pktmbuf_free(m);
	return false;
}

static void
handle_fwd_add(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_session_change chg;

	if (!link_ok(lc, m))
		return;
	if (dp_session_fwd_add(lc->table, d->key, (uint8_t)d->port, &chg))
		DP_COUNT_DROP(&lc->cnt, DP_DROP_TABLE_FULL);
	else
		DP_COUNT(&lc->cnt, mesh_fwd_add, 1);
	rte_pktmbuf_free(m);
}

static void
handle_fwd_del(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_session_change chg;

	if (!link_ok(lc, m))
		return;
	if (dp_session_fwd_del(lc->table, d->key, (uint8_t)d->port, &chg)) {
		rte_pktmbuf_free(m);	/* it never said so: nothing to do */
		return;
	}
	DP_COUNT(&lc->cnt, mesh_fwd_del, 1);
	if (chg.removed_key)
		gone_from_region(lc, m, d->key);
	else
		rte_pktmbuf_free(m);
}

/* A link dropped: forget every key it announced. A walk of the whole
 * table, but links drop rarely and the walk touches only used slots'
 * link lists. */
static void
handle_link_down(struct dp_lcore *lc, struct rte_mbuf *m)
{
	uint8_t link;

	if (!link_ok(lc, m))
		return;
	link = (uint8_t)dp_msg(m)->port;
	rte_pktmbuf_free(m);
	DP_COUNT(&lc->cnt, mesh_link_down, 1);
	for (uint32_t pos = 0; pos < lc->table->nb_pos; pos++) {
		struct dp_peer *p = dp_session_at(lc->table, pos);
		struct dp_session_change chg;

		if (!p || !p->nb_fwd)
			continue;
		if (dp_session_fwd_del(lc->table, p->key, link, &chg))
			continue;
		DP_COUNT(&lc->cnt, mesh_fwd_del, 1);
		if (chg.removed_key)
			gone_from_region(lc, NULL, p->key);
	}
}

/* ClosePeer(key) from a mesh peer: close every local connection of key. */
static void
handle_close_peer(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_peer *p = dp_session_lookup(lc->table, dp_msg(m)->key);

	rte_pktmbuf_free(m);
	if (!p || !p->nb) {
		DP_COUNT(&lc->cnt, mesh_close_unknown, 1);
		return;
	}
	for (int i = 0; i < p->nb; i++) {
		DP_COUNT(&lc->cnt, mesh_close_peer, 1);
		send_close(lc, NULL, &p->conns[i], DP_CLOSE_PEER);
	}
}

static void
handle_active(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_sess_ref ref = {d->tls, d->id, d->gen};
	struct dp_peer *p = dp_session_lookup(lc->table, d->key);
	struct dp_sess_ref prev;

	if (!p) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_STALE_SESSION);
		rte_pktmbuf_free(m);
		return;
	}
	prev = p->conns[0];
	if (dp_session_activate(lc->table, d->key, &ref)) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_STALE_SESSION);
		rte_pktmbuf_free(m);
		return;
	}
	/* confirm to the speaker (it stops asking), demote the previous */
	send_dup(lc, m, &ref, p->key,
		 p->nb > 1 ? DP_DUP_SET | DP_DUP_ACTIVE : DP_DUP_ACTIVE);
	if (!dp_sess_ref_eq(&prev, &ref))
		send_dup(lc, NULL, &prev, p->key, DP_DUP_SET);
}

void
dp_forward_burst(struct dp_lcore *lc, struct rte_mbuf **msgs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = msgs[i];

		switch (dp_msg(m)->type) {
		case DP_MSG_SEND:
			handle_send(lc, m);
			break;
		case DP_MSG_SESSION_UP:
			handle_up(lc, m);
			break;
		case DP_MSG_SESSION_DOWN:
			handle_down(lc, m);
			break;
		case DP_MSG_ACTIVE:
			handle_active(lc, m);
			break;
		case DP_MSG_WATCH:
			handle_watch(lc, m);
			break;
		case DP_MSG_CLOSE_PEER:
			handle_close_peer(lc, m);
			break;
		case DP_MSG_LINK_DOWN:
			handle_link_down(lc, m);
			break;
		case DP_MSG_FWD_ADD:
			handle_fwd_add(lc, m);
			break;
		case DP_MSG_FWD_DEL:
			handle_fwd_del(lc, m);
			break;
		default:
			DP_COUNT_DROP(&lc->cnt, DP_DROP_BAD_MSG);
			rte_pktmbuf_free(m);
			break;
		}
	}
	DP_COUNT(&lc->cnt, ring_msgs, n);
}

/* Packets may be dropped when a thread falls behind; the messages that
 * keep its sessions' state right may not. */
static bool
is_packet(struct rte_mbuf *m)
{
	uint8_t t = dp_msg(m)->type;

	return t == DP_MSG_DELIVER || t == DP_MSG_FORWARD;
}

/* Send what the backlog holds, oldest first, as far as the ring has room.
 * Returns how many went. */
static unsigned int
backlog_drain(struct dp_lcore *lc, struct dp_tls_peer *p)
{
	unsigned int sent = 0;

	while (p->nb_backlog) {
		unsigned int n = DP_BACKLOG - p->bl_head, k;

		if (n > p->nb_backlog)
			n = p->nb_backlog;
		k = rte_ring_sp_enqueue_burst(p->tx, (void **)&p->backlog[p->bl_head], n, NULL);
		sent += k;
		p->bl_head = (p->bl_head + k) % DP_BACKLOG;
		p->nb_backlog -= k;
		if (k < n)
			break;
	}
	if (p->nb_backlog == 0) {
		p->bl_head = 0;
		if (sent)
			lc->nb_backlogged--;
	}
	return sent;
}

/* The ring is full: keep a control message for later, drop a packet. */
static void
backlog_or_drop(struct dp_lcore *lc, struct dp_tls_peer *p, struct rte_mbuf *m)
{
	if (is_packet(m) || p->nb_backlog == DP_BACKLOG) {
		DP_COUNT_DROP(&lc->cnt, is_packet(m) ? DP_DROP_RING_FULL : DP_DROP_BACKLOG_FULL);
		rte_pktmbuf_free(m);
		return;
	}
	if (p->nb_backlog++ == 0)
		lc->nb_backlogged++;
	p->backlog[(p->bl_head + p->nb_backlog - 1) % DP_BACKLOG] = m;
}

void
dp_forward_flush(struct dp_lcore *lc)
{
	for (unsigned int t = 0; t < lc->nb_ep; t++) {
		struct dp_tls_peer *p = &lc->tls[t];
		unsigned int sent = 0, ok = 0;

		if (unlikely(p->nb_backlog))
			sent = backlog_drain(lc, p);
		if (p->nb_stage == 0) {
			if (sent)
				dp_wake_kick(p->wake);
			continue;
		}
		/* nothing overtakes the backlog */
		if (likely(p->nb_backlog == 0))
			ok = rte_ring_sp_enqueue_burst(p->tx, (void **)p->stage,
						       p->nb_stage, NULL);
		for (unsigned int i = ok; i < p->nb_stage; i++)
			backlog_or_drop(lc, p, p->stage[i]);
		p->nb_stage = 0;
		if (sent + ok)
			dp_wake_kick(p->wake);
	}
}

unsigned int
dp_forward_poll(struct dp_lcore *lc)
{
	struct rte_mbuf *msgs[DP_BURST];
	unsigned int total = 0;

	for (unsigned int t = 0; t < lc->nb_ep; t++) {
		unsigned int n = rte_ring_sc_dequeue_burst(lc->tls[t].rx,
							   (void **)msgs,
							   DP_BURST, NULL);

		if (n) {
			dp_forward_burst(lc, msgs, n);
			total += n;
		}
	}
	if (unlikely(lc->nb_dumping))
		total += dump_step(lc);
	if (total || unlikely(lc->nb_backlogged))
		dp_forward_flush(lc);
	return total;
}

bool
dp_forward_idle(const struct dp_lcore *lc)
{
	if (lc->nb_dumping || lc->nb_backlogged)
		return false;
	for (unsigned int t = 0; t < lc->nb_ep; t++)
		if (!rte_ring_empty(lc->tls[t].rx))
			return false;
	return true;
}
