/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per frame: classify (one counter per outcome), then either the STUN
 * answer written over the request and sent back out of the same port, or
 * the frame passed on (exclusive: to the kernel's interface; shared: freed,
 * the kernel has its own copy or never saw it), or dropped with a reason.
 * No syscalls, locks, allocation or logging.
 */
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dataplane/classify.h"
#include "dataplane/wire.h"
#include "dataplane/test_hooks.h"

static void
tx_one(struct dp_lcore *lc, uint16_t port, struct rte_mbuf *m)
{
	struct dp_txbuf *b = &lc->txb[lc->txb_of[port]];

	if (b->n == DP_BURST) {
		uint16_t sent = rte_eth_tx_burst(b->port, b->queue, b->pkts, b->n);

		DP_COUNT(&lc->cnt, tx_pkts, sent);
		if (unlikely(sent < b->n)) {
			DP_COUNT(&lc->cnt, tx_dropped, b->n - sent);
			rte_pktmbuf_free_bulk(b->pkts + sent, b->n - sent);
		}
		b->n = 0;
	}
	b->pkts[b->n++] = m;
}

void
dp_wire_flush(struct dp_lcore *lc)
{
	for (unsigned int i = 0; i < lc->nb_txb; i++) {
		struct dp_txbuf *b = &lc->txb[i];
		uint16_t sent;

		if (!b->n)
			continue;
		sent = rte_eth_tx_burst(b->port, b->queue, b->pkts, b->n);
		DP_COUNT(&lc->cnt, tx_pkts, sent);
		if (unlikely(sent < b->n)) {
			DP_COUNT(&lc->cnt, tx_dropped, b->n - sent);
			rte_pktmbuf_free_bulk(b->pkts + sent, b->n - sent);
		}
		b->n = 0;
	}
}

/* A valid request, classified and counted as STUN: rate limit, answer. */
static void
answer_valid(struct dp_lcore *lc, const struct dp_rxq *q, struct rte_mbuf *m,
	     uint8_t *frame, const struct dp_pkt *pk, const uint8_t txid[STUN_TXID_LEN])
{
	size_t len;

	if (lc->rl.slots &&
	    !dp_ratelimit_allow(&lc->rl,
				frame + pk->l2_len + (pk->family == 4 ? 12 : 8),
				pk->family == 4 ? 4 : 16, rte_get_tsc_cycles())) {
		DP_COUNT(&lc->cnt, stun_rate_limited, 1);
		rte_pktmbuf_free(m);
		return;
	}
	len = dp_stun_reply(frame, pk, txid);
	if (len > m->data_len && len - m->data_len > rte_pktmbuf_tailroom(m)) {
		DP_COUNT(&lc->cnt, stun_multiseg, 1);	/* no room: cannot happen with 2 KiB */
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	m->ol_flags = 0;
	DP_COUNT(&lc->cnt, stun_answered, 1);
	tx_one(lc, q->port, m);
}

/*
 * A STUN-classified frame: answer it in place, or drop with a reason.
 * The UDP checksum is verified here, after the STUN message, and skipped
 * for IPv4 when the message carried a valid FINGERPRINT: a CRC-32 over
 * the same bytes is the stronger check, and the addresses are covered by
 * the IPv4 header checksum already verified. IPv6 is always verified.
 */
static void
answer(struct dp_lcore *lc, const struct dp_rxq *q, struct rte_mbuf *m,
       uint8_t *frame, const struct dp_pkt *pk, bool l4_ok)
{
	uint8_t txid[STUN_TXID_LEN];
	enum stun_verdict v;
	bool fingerprinted;

	v = stun_parse_request_fp(frame + pk->l4_off + 8, pk->payload_len,
				  __atomic_load_n(&lc->tailscale_only, __ATOMIC_RELAXED),
				  txid, &fingerprinted);
	if (!l4_ok && !(fingerprinted && pk->family == 4) &&
	    unlikely(!dp_udp_checksum_ok(frame, pk))) {
		DP_COUNT(&lc->cnt, classes[DP_CR_BAD_CHECKSUM], 1);
		rte_pktmbuf_free(m);
		return;
	}
	DP_COUNT(&lc->cnt, classes[DP_CR_STUN], 1);
	if (unlikely(v != STUN_OK)) {
		DP_COUNT(&lc->cnt, stun_drops[v], 1);
		rte_pktmbuf_free(m);
		return;
	}
	answer_valid(lc, q, m, frame, pk, txid);
}

/* flatten: the STUN fast path's callees (fused classifier, FINGERPRINT,
 * answer, tx buffering) live in other files; inlined here they cost the
 * capacity bench 6-8 % less per frame (tests/bench/run-stun). */
__attribute__((flatten)) void
dp_wire_handle(struct dp_lcore *lc, const struct dp_rxq *q,
	       struct rte_mbuf **pkts, unsigned int n)
{
	if (q->kind == DP_RXQ_KERNEL) {
		for (unsigned int i = 0; i < n; i++)
			tx_one(lc, q->out_port, pkts[i]);
		DP_COUNT(&lc->cnt, exc_out, n);
		return;
	}
	DP_COUNT(&lc->cnt, rx_pkts, n);
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
		uint8_t txid[STUN_TXID_LEN];
		enum dp_class_reason why;
		enum dp_class cls;
		struct dp_pkt pk;
		bool l4_ok = q->l4_cksum &&
			     (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
				     RTE_MBUF_F_RX_L4_CKSUM_GOOD;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (likely(lc->stun_enabled) && m->nb_segs == 1 &&
		    dp_classify_ts4(frame, m->data_len, lc->stun_port, &pk, txid)) {
			/* Tailscale's request over IPv4: what nearly all are */
			DP_COUNT(&lc->cnt, classes[DP_CR_STUN], 1);
			answer_valid(lc, q, m, frame, &pk, txid);
			continue;
		}
		cls = dp_classify(frame, m->data_len, lc->stun_port, true, &pk, &why);
		if (cls == DP_CLASS_STUN && lc->stun_enabled) {
			if (unlikely(m->nb_segs > 1)) {
				DP_COUNT(&lc->cnt, stun_multiseg, 1);
				rte_pktmbuf_free(m);
				continue;
			}
			answer(lc, q, m, frame, &pk, l4_ok);	/* counts its class */
			continue;
		}
		DP_COUNT(&lc->cnt, classes[why], 1);
		if (cls == DP_CLASS_BAD) {
			rte_pktmbuf_free(m);
		} else if (q->out_port != DP_NO_PORT) {
			DP_COUNT(&lc->cnt, exc_in, 1);
			tx_one(lc, q->out_port, m);
		} else {
			DP_COUNT(&lc->cnt, shared_other, 1);
			rte_pktmbuf_free(m);
		}
	}
}

unsigned int
dp_wire_poll(struct dp_lcore *lc)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int total = 0;

	for (unsigned int i = 0; i < lc->nb_rxq; i++) {
		const struct dp_rxq *q = &lc->rxq[i];
		uint16_t n = rte_eth_rx_burst(q->port, q->queue, pkts, DP_BURST);

		if (n) {
			dp_wire_handle(lc, q, pkts, n);
			total += n;
		}
	}
	if (total)
		dp_wire_flush(lc);
	return total;
}
