/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Waking a sleeping ring consumer (docs/architecture.md §3).
 *
 * A consumer with nothing to do publishes `sleeping = 1`, re-checks its
 * rings, and only then blocks on its eventfd. A producer that has just
 * enqueued reads `sleeping` and, if set, writes the eventfd. Both sides use
 * sequentially consistent operations on `sleeping` around the ring access,
 * so either the consumer sees the new entry in its re-check or the
 * producer sees the flag: no wake-up is lost. Under load nobody sleeps,
 * so there are no kicks and no syscalls.
 */
#ifndef DERPER_DATAPLANE_WAKE_H
#define DERPER_DATAPLANE_WAKE_H

#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

struct dp_wake {
	_Atomic int sleeping;
	int efd;		/* eventfd, EFD_NONBLOCK */
	uint64_t kicks;		/* written by producers: relaxed, approximate */
};

/* Producer side, after a successful enqueue. Any thread. */
static inline void
dp_wake_kick(struct dp_wake *w)
{
	uint64_t one = 1;

	if (atomic_load(&w->sleeping)) {
		(void)!write(w->efd, &one, sizeof(one));
		__atomic_fetch_add(&w->kicks, 1, __ATOMIC_RELAXED);
	}
}

/* Consumer side: announce the intent to sleep. Re-check the rings after. */
static inline void
dp_wake_prepare(struct dp_wake *w)
{
	atomic_store(&w->sleeping, 1);
}

/* Consumer side: awake again; clears a pending kick. */
static inline void
dp_wake_done(struct dp_wake *w, int kicked)
{
	uint64_t v;

	atomic_store(&w->sleeping, 0);
	if (kicked)
		(void)!read(w->efd, &v, sizeof(v));
}

#endif /* DERPER_DATAPLANE_WAKE_H */
