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
 * paused, so whatever comes next starts with the spin). A
 * request-response flow alone on the machine gives its core away for a few
 * percent of the spin's time, rarely a quarter twice in a row; many
 * clients at moderate load, most of it.
 *
 * The spin is also for a handful of flows only. A lock-step exchange (one
 * client pinging another, Tailscale's client timing its round trips)
 * waits for each answer, and a nap and a wake-up on every hop triple its
 * round trip. A crowd of senders does not wait for the relay: its packets
 * come whether or not the lcore spins. Spinning for them only moves the
 * wait onto a CPU the scheduler then counts as taken, so it queues the TLS
 * thread and the clients on the other one (at 250 pairs the TLS thread
 * waited runnable 27 % of the time with the spin, 11 % without). Napping
 * at once cut the median 4-8x at 250 and 1,000 pairs and up to 2x at 10,
 * for the same or less CPU (docs/performance.md, "A crowd is served by
 * wake-ups"). So the forwarder marks each packet's receiver, local or
 * over a mesh link, in a 64-bit set, and per `crowd_window` the set
 * decides: more than DP_SPIN_GATE_CROWD receivers (four pairs of
 * Tailscale's client) and the lcore naps as soon as it runs out of work
 * until a window with fewer.
 *
 * Nor is the spin for a one-way stream. A transfer's next packet comes
 * from the same sender whatever the relay does, every few microseconds,
 * so the spin runs through every gap and costs a whole core: under
 * Tailscale's client (`derpc bench`, one pair) the relay spent 8-10 us of
 * CPU per packet spinning and 4.3-4.7 without, at the same throughput
 * (docs/performance.md, "One-way streams are served by wake-ups"). A
 * packet is an answer when its sender is the previous packet's receiver;
 * a lock-step exchange is all answers, a transfer with an acknowledgement
 * every sixteen packets one in eight. In a window of at least
 * DP_SPIN_GATE_STREAM_MIN packets with fewer than a quarter answers, the
 * lcore naps as soon as it runs out of work until a window with more.
 *
 * Lcore-local and pure: TSC values in, no clock read here (unit tests
 * feed it synthetic times).
 */
#ifndef DERPER_DATAPLANE_SPIN_GATE_H
#define DERPER_DATAPLANE_SPIN_GATE_H

#include <stdbool.h>
#include <stdint.h>

enum {
	DP_SPIN_GATE_STRIKES = 2,
	DP_SPIN_GATE_CROWD = 8,
	DP_SPIN_GATE_STREAM_MIN = 16,
};

/* What dp_spin_gate_tick newly found (telemetry counts each). */
enum { DP_SPIN_GATE_NEW_CROWD = 1, DP_SPIN_GATE_NEW_STREAM = 2 };

struct dp_spin_gate {
	uint64_t busy;		/* a yield longer than this: another thread ran */
	uint64_t window;	/* yield time measured for each verdict */
	uint64_t hold;		/* how long a closed gate stays closed */
	uint64_t quiet;		/* a nap this long reopens it */
	uint64_t spun;		/* yield time in this window */
	uint64_t given;		/* of which, yields that gave the core away */
	uint64_t closed_until;	/* TSC; 0: open */
	unsigned int strikes;	/* windows in a row over a quarter */
	uint64_t crowd_window;	/* receivers and answers counted this long */
	uint64_t crowd_end;	/* TSC: this window's verdict is due */
	uint64_t receivers;	/* this window's, one bit per hashed id */
	uint32_t last_rx;	/* the last packet's receiver */
	unsigned int packets;	/* this window's */
	unsigned int answers;	/* of which, sent by the last one's receiver */
	bool crowd;		/* the last window's verdicts */
	bool stream;
};

static inline void
dp_spin_gate_init(struct dp_spin_gate *g, uint64_t busy, uint64_t window,
		  uint64_t hold, uint64_t quiet, uint64_t crowd_window)
{
	*g = (struct dp_spin_gate){.busy = busy, .window = window, .hold = hold,
				   .quiet = quiet, .crowd_window = crowd_window};
}

/* A packet forwarded from the sender `src` to the receiver `dst` names
 * (the forwarder passes their keys' first bytes). */
static inline void
dp_spin_gate_delivered(struct dp_spin_gate *g, uint32_t src, uint32_t dst)
{
	/* Fibonacci hashing: even sequential ids spread over the 64 bits */
	g->receivers |= 1ULL << ((dst * 0x9E3779B97F4A7C15ULL) >> 58);
	g->packets++;
	g->answers += src == g->last_rx;
	g->last_rx = dst;
}

/* Ends the window if it is due: DP_SPIN_GATE_NEW_* for the verdicts it
 * newly found, else 0. */
static inline unsigned int
dp_spin_gate_tick(struct dp_spin_gate *g, uint64_t now)
{
	bool crowd = g->crowd, stream = g->stream;

	if (now < g->crowd_end)
		return 0;
	g->crowd = (unsigned int)__builtin_popcountll(g->receivers) >
		   DP_SPIN_GATE_CROWD;
	g->stream = g->packets >= DP_SPIN_GATE_STREAM_MIN &&
		    g->answers * 4 < g->packets;
	g->receivers = 0;
	g->packets = g->answers = 0;
	g->crowd_end = now + g->crowd_window;
	return (g->crowd && !crowd ? DP_SPIN_GATE_NEW_CROWD : 0) |
	       (g->stream && !stream ? DP_SPIN_GATE_NEW_STREAM : 0);
}

static inline bool
dp_spin_gate_open(const struct dp_spin_gate *g, uint64_t now)
{
	return now >= g->closed_until && !g->crowd && !g->stream;
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
 * that wanted the core, the crowd or the stream, has paused: what comes
 * next (an interactive flow after a transfer) gets the spin again at once,
 * not after the hold or the window. The window goes on counting: a
 * crowd that sends in bursts with pauses between them is still found at
 * its end. */
static inline void
dp_spin_gate_napped(struct dp_spin_gate *g, uint64_t start, uint64_t end)
{
	if (end - start >= g->quiet) {
		g->closed_until = 0;
		g->strikes = 0;
		g->spun = g->given = 0;
		g->crowd = g->stream = false;
	}
}

#endif /* DERPER_DATAPLANE_SPIN_GATE_H */
