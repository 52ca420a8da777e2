/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dataplane/ratelimit.h"

void
dp_ratelimit_init(struct dp_ratelimit *rl, struct dp_rl_slot *slots,
		  uint32_t nb_slots, uint64_t rate, uint64_t burst, uint64_t hz)
{
	memset(rl, 0, sizeof(*rl));
	if (rate == 0)
		return;
	if (burst == 0)
		burst = rate;
	rl->slots = slots;
	rl->mask = nb_slots - 1;
	rl->interval = hz / rate ? hz / rate : 1;
	rl->tolerance = (burst - 1) * rl->interval;
}

/* FNV-1a, 64 bit; never 0 (0 marks an empty slot) */
static uint64_t
hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h | 1;
}

bool
dp_ratelimit_allow(struct dp_ratelimit *rl, const uint8_t *addr, size_t len,
		   uint64_t now)
{
	uint64_t key, tat;
	struct dp_rl_slot *s;

	if (!rl->slots)
		return true;
	key = hash(addr, len);
	s = &rl->slots[key & rl->mask];
	if (s->key != key) {
		/* a new source (or one evicted): it starts with a full burst */
		s->key = key;
		s->tat = now + rl->interval;
		return true;
	}
	tat = s->tat > now ? s->tat : now;
	if (tat - now > rl->tolerance)
		return false;
	s->tat = tat + rl->interval;
	return true;
}
