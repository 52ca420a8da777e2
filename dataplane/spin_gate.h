/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Adaptive idle: whether the lcore's spin is worth its CPU (shared cores).
 *
 * The spin (dataplane/main_loop.c) catches work that comes back within
 * spin_us of the last, without a nap and a wake-up; its yields also keep
 * the core out of its idle state, so a thread woken there runs at once. It
 * pays only while the core has nothing else to do. When other threads want
 * the core (the TLS threads, the clients, other pods), every yield hands it
 * over for as long as the scheduler's fairness says, and a spinning thread
 * has used up its share: it waits behind them, and so does the work that
 * comes in meanwhile. A nap costs a wake-up, but a thread woken from a nap
 * takes the core back at once (docs/performance.md, "The spin steps aside
 * when its core is wanted").
 *
 * So the spin measures its yields. A yield that returns after more than
 * `busy` cycles means another thread ran meanwhile. In every window of
 * `window` cycles spent in yields, if more than a quarter went to other
 * threads, that is a strike; two strikes in a row close the gate for
 * `hold` cycles: the lcore naps as soon as it runs out of work, as with
 * spin_us = 0, and the producers' kicks wake it. Then it opens again and
 * measures anew; it opens at once when a nap lasts `quiet` (the traffic
 * paused, so whatever comes next starts with the spin). A request-response flow alone on the machine gives its
 * core away for a few percent of the spin's time, rarely a quarter twice
 * in a row; many clients at moderate load, most of it.
 *
 * Lcore-local and pure: TSC values in, no clock read here (unit tests
 * feed it synthetic times).
 */
#ifndef DERPER_DATAPLANE_SPIN_GATE_H
#define DERPER_DATAPLANE_SPIN_GATE_H

#include <stdbool.h>
#include <stdint.h>

enum { DP_SPIN_GATE_STRIKES = 2 };

struct dp_spin_gate {
	uint64_t busy;		/* a yield longer than this: another thread ran */
	uint64_t window;	/* yield time measured for each verdict */
	uint64_t hold;		/* how long a closed gate stays closed */
	uint64_t quiet;		/* a nap this long reopens it */
	uint64_t spun;		/* yield time in this window */
	uint64_t given;		/* of which, yields that gave the core away */
	uint64_t closed_until;	/* TSC; 0: open */
	unsigned int strikes;	/* windows in a row over a quarter */
};

static inline void
dp_spin_gate_init(struct dp_spin_gate *g, uint64_t busy, uint64_t window,
		  uint64_t hold, uint64_t quiet)
{
	*g = (struct dp_spin_gate){.busy = busy, .window = window, .hold = hold,
				   .quiet = quiet};
}

static inline bool
dp_spin_gate_open(const struct dp_spin_gate *g, uint64_t now)
{
	return now >= g->closed_until;
}

/* A yield of the spin, from `start` to `end`. True if it closed the gate. */
static inline bool
dp_spin_gate_yielded(struct dp_spin_gate *g, uint64_t start, uint64_t end)
{
	uint64_t d = end - start;
	bool closed = false;

	g->spun += d;
	if (d > g->busy)
		g->given += d;
	if (g->spun < g->window)
		return false;
	if (g->given * 4 <= g->spun) {
		g->strikes = 0;
	} else if (++g->strikes == DP_SPIN_GATE_STRIKES) {
		g->strikes = 0;
		g->closed_until = end + g->hold;
		closed = true;
	}
	g->spun = g->given = 0;
	return closed;
}

/* A nap from `start` to `end`. One of `quiet` or more means the traffic
 * that wanted the core has paused: what comes next (an interactive flow
 * after a transfer) gets the spin again at once, not after the hold. */
static inline void
dp_spin_gate_napped(struct dp_spin_gate *g, uint64_t start, uint64_t end)
{
	if (end - start >= g->quiet) {
		g->closed_until = 0;
		g->strikes = 0;
		g->spun = g->given = 0;
	}
}

#endif /* DERPER_DATAPLANE_SPIN_GATE_H */
