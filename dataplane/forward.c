/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message handlers of the forwarding lcore. Each consumes the mbuf it is
 * given: it is either re-addressed and staged for a TLS thread (a SEND
 * becomes a DELIVER in place, an unknown disco destination becomes a
 * PeerGone(NotHere) for the sender) or freed with exactly one drop reason
 * counted. Notices that need a second message take a fresh mbuf from the
 * pool; when the pool is empty that notice is dropped and counted.
 */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/forward.h"

static void
stage(struct dp_lcore *lc, uint16_t tls, struct rte_mbuf *m)
{
	struct dp_tls_peer *p;

	if (unlikely(tls >= lc->nb_tls)) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_BAD_MSG);
		rte_pktmbuf_free(m);
		return;
	}
	p = &lc->tls[tls];
	if (p->nb_stage == DP_STAGE)
		dp_forward_flush(lc);
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

static void
handle_up(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_sess_ref ref = {d->tls, d->id, d->gen};
	struct dp_session_change chg;
	struct dp_peer *p;

	if (dp_session_add(lc->table, d->key, &ref, d->flags, &chg)) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_TABLE_FULL);
		send_close(lc, m, &ref, DP_CLOSE_TABLE_FULL);
		return;
	}
	DP_COUNT(&lc->cnt, sessions_up, 1);
	if (chg.evicted)
		send_close(lc, NULL, &chg.evict, DP_CLOSE_TOO_MANY_DUPS);
	p = dp_session_lookup(lc->table, d->key);
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

	if (dp_session_remove(lc->table, d->key, &ref, &chg)) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_STALE_SESSION);
		rte_pktmbuf_free(m);
		return;
	}
	DP_COUNT(&lc->cnt, sessions_down, 1);
	if (chg.removed_key) {
		uint8_t key[DP_KEY_LEN];

		/* Gone from the region: every TLS thread tells the
		 * connections that heard from this key (§6.8). `m` is
		 * handed over in the first iteration: keep the key. */
		memcpy(key, d->key, DP_KEY_LEN);
		for (unsigned int t = 0; t < lc->nb_tls; t++) {
			struct rte_mbuf *n = t == 0 ? m : notice(lc);
			struct dp_msg *nd;

			if (!n)
				continue;
			if (t == 0)
				strip(n);
			nd = dp_msg(n);
			nd->type = DP_MSG_PEER_GONE_ALL;
			nd->flags = DP_GONE_DISCONNECTED;
			nd->tls = (uint16_t)t;
			nd->id = 0;	/* for every session of that thread */
			nd->gen = 0;
			memcpy(nd->key, key, DP_KEY_LEN);
			stage(lc, (uint16_t)t, n);
		}
		return;
	}
	p = dp_session_lookup(lc->table, d->key);
	if (p->nb == 1)
		send_dup(lc, m, &p->conns[0], p->key, DP_DUP_ACTIVE);
	else if (chg.was_active)
		send_dup(lc, m, &p->conns[0], p->key,
			 DP_DUP_SET | DP_DUP_ACTIVE);
	else
		rte_pktmbuf_free(m);
}

static void
handle_send(struct dp_lcore *lc, struct rte_mbuf *m)
{
	struct dp_msg *d = dp_msg(m);
	struct dp_peer *p = dp_session_lookup(lc->table, d->key);

	if (unlikely(!p)) {
		DP_COUNT_DROP(&lc->cnt, DP_DROP_UNKNOWN_DEST);
		if (d->flags & DP_PKT_DISCO) {
			/* back to the sender; its TLS thread rate-limits */
			strip(m);
			d->type = DP_MSG_PEER_GONE;
			d->flags = DP_GONE_NOT_HERE;
			DP_COUNT(&lc->cnt, not_here, 1);
			stage(lc, d->tls, m);
			return;
		}
		rte_pktmbuf_free(m);
		return;
	}
	d->type = DP_MSG_DELIVER;
	set_ref(d, &p->conns[0]);
	DP_COUNT(&lc->cnt, forwarded, 1);
	stage(lc, d->tls, m);
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
		default:
			DP_COUNT_DROP(&lc->cnt, DP_DROP_BAD_MSG);
			rte_pktmbuf_free(m);
			break;
		}
	}
	DP_COUNT(&lc->cnt, ring_msgs, n);
}

void
dp_forward_flush(struct dp_lcore *lc)
{
	for (unsigned int t = 0; t < lc->nb_tls; t++) {
		struct dp_tls_peer *p = &lc->tls[t];
		unsigned int sent;

		if (p->nb_stage == 0)
			continue;
		sent = rte_ring_sp_enqueue_burst(p->tx, (void **)p->stage,
						 p->nb_stage, NULL);
		for (unsigned int i = sent; i < p->nb_stage; i++) {
			DP_COUNT_DROP(&lc->cnt, DP_DROP_RING_FULL);
			rte_pktmbuf_free(p->stage[i]);
		}
		p->nb_stage = 0;
		if (sent)
			dp_wake_kick(p->wake);
	}
}

unsigned int
dp_forward_poll(struct dp_lcore *lc)
{
	struct rte_mbuf *msgs[DP_BURST];
	unsigned int total = 0;

	for (unsigned int t = 0; t < lc->nb_tls; t++) {
		unsigned int n = rte_ring_sc_dequeue_burst(lc->tls[t].rx,
							   (void **)msgs,
							   DP_BURST, NULL);

		if (n) {
			dp_forward_burst(lc, msgs, n);
			total += n;
		}
	}
	if (total)
		dp_forward_flush(lc);
	return total;
}

bool
dp_forward_idle(const struct dp_lcore *lc)
{
	for (unsigned int t = 0; t < lc->nb_tls; t++)
		if (!rte_ring_empty(lc->tls[t].rx))
			return false;
	return true;
}
