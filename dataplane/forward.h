/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP forwarding on the forwarding lcore: drain the tls->dp rings, keep
 * the session table, route each SendPacket to the ring of the TLS thread
 * that owns the destination (docs/architecture.md §4).
 */
#ifndef DERPER_DATAPLANE_FORWARD_H
#define DERPER_DATAPLANE_FORWARD_H

#include "dataplane/lcore.h"

/*
 * One pass over every TLS thread's ring: handle up to DP_BURST messages
 * from each, then flush the staged replies. Returns the number of messages
 * handled. Forwarding lcore only.
 */
unsigned int dp_forward_poll(struct dp_lcore *lc);

/* Are all tls->dp rings empty? (re-check before sleeping) */
bool dp_forward_idle(const struct dp_lcore *lc);

#endif /* DERPER_DATAPLANE_FORWARD_H */
