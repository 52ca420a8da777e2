/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane poll loop. Each iteration:
 *   1. polls the port rx queues of this lcore (STUN, exception path);
 *   2. on the forwarding lcore, drains the tls->dp rings and routes DERP
 *      frames to the dp->tls rings;
 *   3. checks `quit`.
 * No syscalls, locks, malloc or logging per packet. When idle in adaptive
 * mode it spins for spin_tsc, then naps on its eventfd: until kicked when
 * it has no ports, until kicked or a frame arrives when its ports can tell
 * (shared net_af_packet: dataplane/pkt_filter.c), for nap_ns when ports
 * must still be polled. Adaptive
 * mode is for cores shared with other threads, so its spin yields the CPU
 * (sched_yield) at each empty poll: a thread waiting for this core (a TLS
 * thread, the clients) runs at once, and when nobody waits the yield
 * returns at once and the spin goes on. The nap and the yield are the only
 * syscalls, and they only happen when there was nothing to do. The spin
 * also stops for a while when its yields show that other threads want the
 * core, and while the last window's packets went to a crowd of receivers
 * (dataplane/spin_gate.h). Poll mode
 * (dedicated cores) spins with a pause instruction.
 *
 * Under inline forwarding (dataplane/dataplane.h) no lcore runs this loop:
 * the one TLS thread calls dp_inline_run for the poll step and
 * dp_inline_spin for the idle decision, and sleeps in its own epoll.
 */
#include <poll.h>
#include <sched.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "base/sched_slice.h"
#include "dataplane/dataplane.h"
#include "dataplane/forward.h"
#include "dataplane/lcore.h"
#include "dataplane/main_loop.h"
#include "dataplane/wire.h"

static bool
has_work(const struct dp_lcore *lc)
{
	return lc->forwarder && !dp_forward_idle(lc);
}

/* Adaptive idle, after a poll that found nothing: true to spin on (the
 * CPU yielded once), false to nap. Still idle after a nap: nap again, no
 * spin; and no spin while the core is wanted, or a crowd or a one-way
 * stream is served (dataplane/spin_gate.h). */
static bool
spin_on(struct dp_lcore *lc, uint64_t last_work)
{
	uint64_t now = rte_get_tsc_cycles();
	unsigned int found = dp_spin_gate_tick(&lc->gate, now);

	if (found & DP_SPIN_GATE_NEW_CROWD)
		DP_COUNT(&lc->cnt, spin_crowded, 1);
	if (found & DP_SPIN_GATE_NEW_STREAM)
		DP_COUNT(&lc->cnt, spin_streaming, 1);
	if (now - last_work > lc->spin_tsc || !dp_spin_gate_open(&lc->gate, now))
		return false;
	sched_yield();
	if (dp_spin_gate_yielded(&lc->gate, now, rte_get_tsc_cycles()))
		DP_COUNT(&lc->cnt, spin_gate_closed, 1);
	return true;
}

static unsigned int
poll_once(struct dp_lcore *lc)
{
	unsigned int n = 0;

	if (lc->nb_rxq)
		n += dp_wire_poll(lc);
	if (lc->forwarder)
		n += dp_forward_poll(lc);
	DP_COUNT(&lc->cnt, loops, 1);
	if (n)
		DP_COUNT(&lc->cnt, busy_loops, 1);
	return n;
}

static void
nap(struct dp_lcore *lc)
{
	struct timespec ts = {.tv_sec = (time_t)(lc->nap_ns / 1000000000ULL),
			      .tv_nsec = (long)(lc->nap_ns % 1000000000ULL)};
	int kicked = 0;

	dp_wake_prepare(&lc->wake);
	/* re-check after publishing the flag: a producer that enqueued
	 * before seeing it left work we must not sleep on */
	if (!has_work(lc) && !atomic_load(&lc->quit)) {
		uint64_t start = rte_get_tsc_cycles();

		DP_COUNT(&lc->cnt, sleeps, 1);
		kicked = ppoll(lc->nap_fds, lc->nb_nap_fds, &ts, NULL) > 0 &&
			 (lc->nap_fds[0].revents & POLLIN);
		dp_spin_gate_napped(&lc->gate, start, rte_get_tsc_cycles());
	}
	dp_wake_done(&lc->wake, kicked);
}

int
dp_main_loop(void *arg)
{
	struct dp_lcore *lc = arg;
	uint64_t last_work;

	/* shared cores: a kick from a TLS thread preempts whatever else runs
	 * on this CPU (base/sched_slice.h); ignored where unsupported */
	if (lc->adaptive)
		(void)sched_slice_set(SCHED_SLICE_NS);
	last_work = rte_get_tsc_cycles();

	while (!atomic_load_explicit(&lc->quit, memory_order_relaxed)) {
		if (poll_once(lc)) {
			last_work = rte_get_tsc_cycles();
			continue;
		}
		if (lc->adaptive) {
			if (!spin_on(lc, last_work))
				nap(lc);
		} else {
			rte_pause();
		}
	}
	return 0;
}

/* Inline forwarding (dataplane/dataplane.h): the TLS thread's side. */

enum { INLINE_PASSES = 16 };	/* then the TLS thread's sockets get a turn */

unsigned int
dp_inline_run(struct dp_lcore *lc)
{
	unsigned int total = 0, n, passes = 0;

	do {
		n = poll_once(lc);
		total += n;
	} while (n && ++passes < INLINE_PASSES);
	return total;
}

bool
dp_inline_busy(const struct dp_lcore *lc)
{
	return has_work(lc);
}

bool
dp_inline_spin(struct dp_lcore *lc, uint64_t last_work)
{
	return spin_on(lc, last_work);
}

void
dp_inline_slept(struct dp_lcore *lc, uint64_t start, uint64_t end)
{
	DP_COUNT(&lc->cnt, sleeps, 1);
	dp_spin_gate_napped(&lc->gate, start, end);
}

struct dp_wake *
dp_inline_wake(struct dp_lcore *lc)
{
	return &lc->wake;
}
