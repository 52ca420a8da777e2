/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A session's admission (docs/protocol.md §8): the request to the
 * admission thread, and its verdict. The session waits in S_VERIFYING;
 * the TLS thread never blocks on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "tls/admit_link.h"
#include "tls/session_int.h"

/* Ask the admission thread about this client; the session waits. */
int
session_request_admission(struct tls_thread *t, struct session *s)
{
	struct admit_msg m = {.id = s->id, .gen = s->gen};

	memcpy(m.key, s->key, sizeof(m.key));
	memcpy(m.ip, s->ip, sizeof(m.ip));
	if (t->admit_out >= ADMIT_RING_SIZE ||
	    rte_ring_sp_enqueue_elem(t->admit->req, &m, sizeof(m)))
		return CLOSE_RC(TLS_CLOSE_VERIFY_OVERLOAD);
	t->admit_out++;
	dp_wake_kick(t->admit->admit_wake);
	TLS_COUNT(&t->cnt, verify_requests, 1);
	s->state = S_VERIFYING;
	s->deadline_ms = t->now_ms + (uint64_t)t->cfg->verify.timeout_s * 1000;
	session_timer_arm(t, s);
	return 0;
}

/* The admission thread's verdict for one of our sessions. */
void
session_verdict(struct tls_thread *t, const struct admit_msg *m)
{
	struct session *s = tls_thread_lookup(t, m->id, m->gen);
	uint8_t *held;
	uint32_t n;
	int rc;

	if (t->admit_out)
		t->admit_out--;
	if (!s || s->state != S_VERIFYING)
		return;		/* closed meanwhile (deadline, EOF, shutdown) */
	if (m->verdict != ADMIT_ALLOW) {
		/* derper closes with no DERP-level message */
		session_close(t, s, TLS_CLOSE_VERIFY_REJECTED);
		return;
	}
	TLS_COUNT(&t->cnt, verify_admitted, 1);
	rc = session_register(t, s);
	if (rc) {
		session_close(t, s, -rc - 1000);
		return;
	}
	/* what the client pipelined meanwhile, in order */
	held = s->held;
	n = s->held_len;
	s->held = NULL;
	s->held_len = s->held_cap = 0;
	if (n)
		session_feed_derp(t, s, held, n);
	free(held);
}
