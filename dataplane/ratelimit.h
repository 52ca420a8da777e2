/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-source rate limit for STUN answers, so the relay cannot be turned
 * into a reflector against a spoofed victim. One table per lcore (no
 * sharing, no locks): direct-mapped by a hash of the source address, each
 * slot a GCRA "theoretical arrival time" (one timestamp per source
 * instead of a token count and a refill time). A new source takes the
 * slot of an old one; under a flood of distinct sources the limit is best
 * effort, and memory stays fixed. Pure; time is passed in (TSC cycles).
 */
#ifndef DERPER_DATAPLANE_RATELIMIT_H
#define DERPER_DATAPLANE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp_rl_slot {
	uint64_t key;		/* hash of the source address; 0 = empty */
	uint64_t tat;		/* theoretical arrival time, cycles */
};

struct dp_ratelimit {
	uint32_t mask;		/* slots - 1 */
	uint64_t interval;	/* cycles per allowed packet */
	uint64_t tolerance;	/* (burst - 1) * interval */
	struct dp_rl_slot *slots;
};

/* Configure for `rate` packets/s with `burst`, on a `hz` clock, over a
 * caller-provided power-of-two array of slots (zeroed). rate 0 = off. */
void dp_ratelimit_init(struct dp_ratelimit *rl, struct dp_rl_slot *slots,
		       uint32_t nb_slots, uint64_t rate, uint64_t burst,
		       uint64_t hz);

/* May a packet from this source (4 or 16 address bytes) go now? */
bool dp_ratelimit_allow(struct dp_ratelimit *rl, const uint8_t *addr,
			size_t len, uint64_t now);

#endif /* DERPER_DATAPLANE_RATELIMIT_H */
