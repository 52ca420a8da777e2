/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames on the ports of one lcore: rx burst, classify, answer STUN in
 * place, hand everything else to the kernel (exclusive mode) or leave it
 * (shared mode), relay the kernel's egress to the wire, tx in bursts.
 */
#ifndef DERPER_DATAPLANE_WIRE_H
#define DERPER_DATAPLANE_WIRE_H

#include "dataplane/lcore.h"

/* One pass over this lcore's rx queues. Returns frames received. */
unsigned int dp_wire_poll(struct dp_lcore *lc);

/* Send what is buffered; what a full tx queue refuses is freed and
 * counted. */
void dp_wire_flush(struct dp_lcore *lc);

#endif /* DERPER_DATAPLANE_WIRE_H */
