/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Waking a sleeping ring consumer (docs/architecture.md §3).
 *
 * A consumer with nothing to do publishes `sleeping = 1`, re-checks its
 * rings, and only then blocks on its eventfd. A producer that has just
 * enqueued reads `sleeping` and, if set, writes the eventfd. Under load
 * nobody sleeps, so there are no kicks and no syscalls.
 *
 * This is Dekker's pattern: each side stores to one location and then
 * loads the other (producer: ring tail, then `sleeping`; consumer:
 * `sleeping`, then ring tail). A store followed by a load of another
 * address may be reordered by the CPU (x86 included: the store buffer) and
 * by the C11 model unless a sequentially consistent fence stands between
 * them, so each side has one. With both fences, at least one side sees the
 * other's store: either the consumer finds the entry in its re-check or the
 * producer finds the flag and kicks; no wake-up is lost
 * (tests/dpdk/test_wake.c hands off millions of messages and fails on any
 * wait past its bound). The producer's fence costs one serialising
 * instruction per burst enqueued, not per packet.
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

	/* the ring's tail store before the flag's load (see above) */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&w->sleeping, memory_order_relaxed)) {
		(void)!write(w->efd, &one, sizeof(one));
		__atomic_fetch_add(&w->kicks, 1, __ATOMIC_RELAXED);
	}
}

/* Consumer side: announce the intent to sleep. Re-check the rings after. */
static inline void
dp_wake_prepare(struct dp_wake *w)
{
	atomic_store_explicit(&w->sleeping, 1, memory_order_relaxed);
	/* the flag's store before the rings' re-check (see above) */
	atomic_thread_fence(memory_order_seq_cst);
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
