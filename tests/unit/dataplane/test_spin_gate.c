/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/spin_gate.h"
#include "tests/lib/harness.h"

/* A 1 MHz clock: one cycle is one microsecond. The relay's settings: a
 * yield over 32 us gave the core away, a verdict per 5 ms of yields, a
 * closed gate stays closed for 50 ms, or until a nap of 1 ms; receivers
 * counted per 10 ms. */
enum { BUSY = 32, WINDOW = 5000, HOLD = 50000, QUIET = 1000, CROWD_WINDOW = 10000 };

/* Yields of `quick` us with, every `every` yields, one of `slow` us, for
 * `total` us from *now. Returns how many times the gate closed. */
static int
spin(struct dp_spin_gate *g, uint64_t *now, uint64_t total, uint64_t quick,
     unsigned int every, uint64_t slow)
{
	uint64_t end = *now + total;
	unsigned int i = 0;
	int closed = 0;

	while (*now < end) {
		uint64_t d = every && ++i % every == 0 ? slow : quick;

		CU_ASSERT_FATAL(dp_spin_gate_open(g, *now));
		closed += dp_spin_gate_yielded(g, *now, *now + d);
		*now += d;
		if (!dp_spin_gate_open(g, *now))
			break;
	}
	return closed;
}

static struct dp_spin_gate
fresh_gate(void)
{
	struct dp_spin_gate g;

	dp_spin_gate_init(&g, BUSY, WINDOW, HOLD, QUIET, CROWD_WINDOW);
	return g;
}

static void
test_alone_stays_open(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000;

	/* nobody else on the core: every yield returns at once */
	CU_ASSERT_EQUAL(spin(&g, &now, 10 * 1000000, 1, 0, 0), 0);
	CU_ASSERT(dp_spin_gate_open(&g, now));
	/* a request-response partner taking the core now and then: 40 us
	 * every 400 us of spinning is under a tenth */
	CU_ASSERT_EQUAL(spin(&g, &now, 10 * 1000000, 1, 400, 40), 0);
	/* short hand-overs (under `busy`) are not counted at all */
	CU_ASSERT_EQUAL(spin(&g, &now, 10 * 1000000, 1, 2, 30), 0);
	CU_ASSERT(dp_spin_gate_open(&g, now));
}

static void
test_wanted_closes_then_reopens(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000, closed_at;

	/* others hold the core 100 us after every 10 yields: over 90 % */
	CU_ASSERT_EQUAL(spin(&g, &now, 10 * 1000000, 1, 10, 100), 1);
	closed_at = now;
	CU_ASSERT(!dp_spin_gate_open(&g, now));
	/* two windows of yields, then the verdict */
	CU_ASSERT(closed_at >= 1000 + 2 * WINDOW);
	CU_ASSERT(closed_at <= 1000 + 2 * WINDOW + 2 * 100);
	CU_ASSERT(!dp_spin_gate_open(&g, closed_at + HOLD - 1));
	CU_ASSERT(dp_spin_gate_open(&g, closed_at + HOLD));
	/* reopened, it measures anew: a quiet core keeps it open */
	now = closed_at + HOLD;
	CU_ASSERT_EQUAL(spin(&g, &now, 1000000, 1, 0, 0), 0);
	CU_ASSERT(dp_spin_gate_open(&g, now));
}

static void
test_one_busy_window_is_not_enough(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000;

	/* busy windows alternating with quiet ones never close it */
	for (int i = 0; i < 50; i++) {
		CU_ASSERT_EQUAL(spin(&g, &now, WINDOW, 1, 10, 100), 0);
		CU_ASSERT_EQUAL(spin(&g, &now, WINDOW, 1, 0, 0), 0);
	}
	CU_ASSERT(dp_spin_gate_open(&g, now));
	/* the threshold is a quarter: a fifth of the time is not a strike */
	CU_ASSERT_EQUAL(spin(&g, &now, 10 * 1000000, 1, 160, 40), 0);
	/* a third is */
	CU_ASSERT_EQUAL(spin(&g, &now, 10 * 1000000, 1, 80, 40), 1);
}

static void
test_quiet_reopens(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000;

	CU_ASSERT_EQUAL(spin(&g, &now, 10 * 1000000, 1, 10, 100), 1);
	/* closed: the lcore naps after each piece of work; short naps (the
	 * load goes on) leave it closed */
	for (int i = 0; i < 100; i++) {
		dp_spin_gate_napped(&g, now, now + 20);
		now += 25;
	}
	dp_spin_gate_napped(&g, now, now + QUIET - 1);
	now += QUIET - 1;
	CU_ASSERT(!dp_spin_gate_open(&g, now));
	/* a nap of 1 ms: the traffic paused, the spin is back at once */
	dp_spin_gate_napped(&g, now, now + QUIET);
	now += QUIET;
	CU_ASSERT(dp_spin_gate_open(&g, now));
	/* and a half-measured window or a strike from before does not count:
	 * one busy window alone does not close it again */
	CU_ASSERT_EQUAL(spin(&g, &now, WINDOW, 1, 10, 100), 0);
	CU_ASSERT(dp_spin_gate_open(&g, now));
}

/* One crowd window from *now: `packets` packets to ids first, first + 1,
 * ... first + receivers - 1 in turn, each sent by the previous one's
 * receiver (answers: never a one-way stream), then the verdict. Returns
 * whether the verdict newly found a crowd. */
static bool
window_of(struct dp_spin_gate *g, uint64_t *now, uint32_t first,
	  uint32_t receivers, unsigned int packets)
{
	uint64_t end = *now + CROWD_WINDOW;

	for (unsigned int i = 0; i < packets; i++) {
		dp_spin_gate_delivered(g, g->last_rx, first + i % receivers);
		/* not due yet: no verdict, whatever was delivered */
		CU_ASSERT_FALSE(dp_spin_gate_tick(g, *now + i % CROWD_WINDOW));
	}
	*now = end;
	return dp_spin_gate_tick(g, *now) & DP_SPIN_GATE_NEW_CROWD;
}

/* A window as above, then what its verdict must be: newly a crowd (the
 * count), and whether the lcore spins after it. */
static void
expect_window(struct dp_spin_gate *g, uint64_t *now, uint32_t first,
	      uint32_t receivers, unsigned int packets, bool newly_crowd,
	      bool spins)
{
	CU_ASSERT_EQUAL(window_of(g, now, first, receivers, packets), newly_crowd);
	CU_ASSERT_EQUAL(dp_spin_gate_open(g, *now), spins);
}

static void
test_few_receivers_keep_the_spin(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000;

	CU_ASSERT_FALSE(dp_spin_gate_tick(&g, now));	/* starts the first window */
	/* a ping-pong (two receivers), then DP_SPIN_GATE_CROWD in turn (four
	 * pairs of Tailscale's client): as many packets as the crowd below,
	 * never a crowd */
	for (uint32_t i = 0; i < 20; i++)
		expect_window(&g, &now, 7, 2, 500, false, true);
	for (uint32_t i = 0; i < 20; i++)
		expect_window(&g, &now, 1000 + 10 * i, DP_SPIN_GATE_CROWD, 500,
			      false, true);
	/* a window without packets is no crowd either */
	expect_window(&g, &now, 0, 1, 0, false, true);
}

static void
test_crowd_stops_the_spin_while_it_lasts(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000;

	CU_ASSERT_FALSE(dp_spin_gate_tick(&g, now));
	/* 500 sessions, one packet each in the window: a crowd, counted once */
	expect_window(&g, &now, 1, 500, 500, true, false);
	expect_window(&g, &now, 1, 500, 500, false, false);	/* still one */
	/* sequential ids, ten pairs' worth, are enough */
	expect_window(&g, &now, 40, 20, 20, false, false);
	/* the crowd leaves, a ping-pong stays: the next verdict spins again */
	expect_window(&g, &now, 3, 2, 400, false, true);
	/* and a crowd coming back is counted again */
	expect_window(&g, &now, 1, 64, 64, true, false);
	/* the crowd's traffic pauses for 1 ms: what comes next spins at once */
	dp_spin_gate_napped(&g, now, now + QUIET - 1);
	CU_ASSERT_FALSE(dp_spin_gate_open(&g, now + QUIET - 1));
	now += QUIET - 1;
	dp_spin_gate_napped(&g, now, now + QUIET);
	now += QUIET;
	CU_ASSERT(dp_spin_gate_open(&g, now));
	/* a ping-pong alone in the rest of the window keeps the spin */
	expect_window(&g, &now, 3, 2, 400, false, true);
}

static void
test_crowd_in_bursts_is_found(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000;

	CU_ASSERT_FALSE(dp_spin_gate_tick(&g, now));
	/* bursts of 5 receivers, 2 ms apart: each pause spins again, and
	 * the window still adds them up to a crowd */
	for (uint32_t b = 0; b < 4; b++) {
		for (uint32_t i = 0; i < 5; i++)
			dp_spin_gate_delivered(&g, g.last_rx, 5 * b + i);
		CU_ASSERT_FALSE(dp_spin_gate_tick(&g, now));
		dp_spin_gate_napped(&g, now, now + 2 * QUIET);
		now += 2 * QUIET;
		CU_ASSERT(dp_spin_gate_open(&g, now));
	}
	now += CROWD_WINDOW - 4 * 2 * QUIET;
	CU_ASSERT(dp_spin_gate_tick(&g, now));
	CU_ASSERT_FALSE(dp_spin_gate_open(&g, now));
}

static void
test_crowd_and_wanted_core_are_separate(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000;

	/* the core wanted: closed for the hold, whatever the receivers */
	CU_ASSERT_EQUAL(spin(&g, &now, 10 * 1000000, 1, 10, 100), 1);
	CU_ASSERT_FALSE(dp_spin_gate_tick(&g, now));
	expect_window(&g, &now, 3, 2, 100, false, false);
	now += HOLD;
	CU_ASSERT(dp_spin_gate_open(&g, now));
	/* a crowd does not touch the yields' verdict */
	expect_window(&g, &now, 1, 100, 100, true, false);
	CU_ASSERT_EQUAL(g.strikes, 0);
	CU_ASSERT(g.closed_until <= now);
}

/* One window from *now of a transfer from 1 to 2: `packets` packets, and
 * after every `ack` of them one back from 2 to 1 (0: none); or, with
 * `tcp`, 1 sends two and 2 answers one in turn. Returns the verdict's
 * DP_SPIN_GATE_NEW_* bits. */
static unsigned int
stream_window(struct dp_spin_gate *g, uint64_t *now, unsigned int packets,
	      unsigned int ack)
{
	for (unsigned int i = 0; i < packets; i++) {
		dp_spin_gate_delivered(g, 1, 2);
		if (ack && i % ack == ack - 1)
			dp_spin_gate_delivered(g, 2, 1);
		CU_ASSERT_EQUAL(dp_spin_gate_tick(g, *now + i % CROWD_WINDOW), 0);
	}
	*now += CROWD_WINDOW;
	return dp_spin_gate_tick(g, *now);
}

static void
test_one_way_stream_stops_the_spin(void)
{
	struct dp_spin_gate g = fresh_gate();
	uint64_t now = 1000;

	CU_ASSERT_EQUAL(dp_spin_gate_tick(&g, now), 0);
	/* Tailscale's client's transfer: an acknowledgement every sixteen
	 * packets, one in eight an answer: a stream, counted once */
	CU_ASSERT_EQUAL(stream_window(&g, &now, 500, 16), DP_SPIN_GATE_NEW_STREAM);
	CU_ASSERT_FALSE(dp_spin_gate_open(&g, now));
	CU_ASSERT_EQUAL(stream_window(&g, &now, 500, 0), 0);	/* still one */
	CU_ASSERT_FALSE(dp_spin_gate_open(&g, now));
	/* its round trips after it: all answers, the spin is back */
	expect_window(&g, &now, 1, 2, 200, false, true);
	/* a stream that pauses for 1 ms: what comes next spins at once */
	CU_ASSERT_EQUAL(stream_window(&g, &now, 500, 16), DP_SPIN_GATE_NEW_STREAM);
	dp_spin_gate_napped(&g, now, now + QUIET);
	now += QUIET;
	CU_ASSERT(dp_spin_gate_open(&g, now));
	/* fewer than DP_SPIN_GATE_STREAM_MIN packets say nothing */
	CU_ASSERT_EQUAL(stream_window(&g, &now, DP_SPIN_GATE_STREAM_MIN - 1, 0), 0);
	CU_ASSERT(dp_spin_gate_open(&g, now));
	/* a TCP transfer inside a tunnel, an acknowledgement per two
	 * segments: two in three are answers, no stream */
	CU_ASSERT_EQUAL(stream_window(&g, &now, 500, 2), 0);
	CU_ASSERT(dp_spin_gate_open(&g, now));
	/* and a stream with a crowd: both counted, each once */
	for (uint32_t i = 0; i < 100; i++)
		dp_spin_gate_delivered(&g, 1, 1000 + i);
	now += CROWD_WINDOW;
	CU_ASSERT_EQUAL(dp_spin_gate_tick(&g, now),
			DP_SPIN_GATE_NEW_CROWD | DP_SPIN_GATE_NEW_STREAM);
	CU_ASSERT_FALSE(dp_spin_gate_open(&g, now));
}

static CU_TestInfo tests[] = {
	{"a core nobody else wants keeps the spin", test_alone_stays_open},
	{"a one-way stream stops the spin while it lasts", test_one_way_stream_stops_the_spin},
	{"a wanted core stops the spin for the hold", test_wanted_closes_then_reopens},
	{"two windows in a row, over a quarter", test_one_busy_window_is_not_enough},
	{"a pause in the traffic reopens it", test_quiet_reopens},
	{"a few receivers keep the spin", test_few_receivers_keep_the_spin},
	{"a crowd of receivers stops it while it lasts", test_crowd_stops_the_spin_while_it_lasts},
	{"a crowd in bursts with pauses is found", test_crowd_in_bursts_is_found},
	{"crowd and wanted core are separate verdicts", test_crowd_and_wanted_core_are_separate},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("dataplane/spin_gate", tests)
