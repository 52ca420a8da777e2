/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dataplane/wake.h under stress: a producer thread hands messages one at a
 * time over an SP/SC rte_ring to a consumer thread that goes to sleep on
 * its eventfd whenever the ring is empty, exactly as the TLS threads and
 * lcores do. A lost wake-up leaves the consumer asleep on a non-empty ring
 * until its timeout: any message that waits past WAIT_BOUND_MS fails the
 * test. Two shapes: strict ping-pong (every message finds the consumer
 * about to sleep, the race window) and bursts with jittered gaps.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ring.h>

#include "base/clock.h"
#include "dataplane/wake.h"
#include "tests/lib/harness.h"

enum {
	WAIT_BOUND_MS = 200,	/* a kicked consumer wakes in microseconds */
	SLEEP_TIMEOUT_MS = 1000,	/* the consumer's own timeout: a lost kick */
	RUN_MS = 8000,		/* each shape stops at this, whatever the count */
};

struct handoff {
	struct rte_ring *ring;
	struct dp_wake wake;
	_Atomic uint64_t consumed;
	_Atomic int stop;
	uint64_t target;
	uint64_t late;		/* messages that waited past the bound */
	uint64_t sleeps, timeouts;
	uint64_t worst_ns;
};

static void *
consumer(void *arg)
{
	struct handoff *h = arg;

	while (!atomic_load(&h->stop)) {
		void *m;

		if (rte_ring_sc_dequeue(h->ring, &m) == 0) {
			uint64_t lag = clock_mono_ns() - (uint64_t)(uintptr_t)m;

			if (lag > h->worst_ns)
				h->worst_ns = lag;
			if (lag > (uint64_t)WAIT_BOUND_MS * 1000000)
				h->late++;
			atomic_fetch_add(&h->consumed, 1);
			continue;
		}
		dp_wake_prepare(&h->wake);
		if (!rte_ring_empty(h->ring)) {
			dp_wake_done(&h->wake, 0);
			continue;
		}
		{
			struct pollfd p = {.fd = h->wake.efd, .events = POLLIN};
			int n = poll(&p, 1, SLEEP_TIMEOUT_MS);

			h->sleeps++;
			if (n == 0 && !rte_ring_empty(h->ring))
				h->timeouts++;
			dp_wake_done(&h->wake, n > 0);
		}
	}
	return NULL;
}

/* Hand `count` messages over, one at a time (burst 1) or in bursts with
 * gaps; returns once the consumer has them all or RUN_MS passed. */
static void
run(struct handoff *h, uint64_t count, unsigned int burst)
{
	uint64_t end = clock_mono_ms() + RUN_MS, sent = 0;
	unsigned int seed = 1;
	pthread_t th;

	h->target = count;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, consumer, h), 0);
	while (sent < count && clock_mono_ms() < end) {
		unsigned int n = burst == 1 ? 1 : 1 + (unsigned int)rand_r(&seed) % burst;

		for (unsigned int i = 0; i < n; i++) {
			void *m = (void *)(uintptr_t)clock_mono_ns();

			while (rte_ring_sp_enqueue(h->ring, m))
				;
			sent++;
		}
		dp_wake_kick(&h->wake);
		if (burst == 1) {
			/* wait until it is taken: the consumer then heads to sleep */
			while (atomic_load(&h->consumed) < sent && clock_mono_ms() < end)
				;
		} else if (rand_r(&seed) % 4 == 0) {
			/* a gap of 0-20 us, long enough for it to doze off */
			uint64_t until = clock_mono_ns() + (uint64_t)(rand_r(&seed) % 20000);

			while (clock_mono_ns() < until)
				;
		}
	}
	while (atomic_load(&h->consumed) < sent && clock_mono_ms() < end + 2 * SLEEP_TIMEOUT_MS)
		;
	atomic_store(&h->stop, 1);
	{
		uint64_t one = 1;

		(void)!write(h->wake.efd, &one, sizeof(one));
	}
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(atomic_load(&h->consumed), sent);
	CU_ASSERT(sent > count / 20);	/* the run did real work in its time */
	printf("\n    %llu handed off, %llu sleeps, worst wait %.1f us, %llu late, %llu timed out ",
	       (unsigned long long)sent, (unsigned long long)h->sleeps,
	       (double)h->worst_ns / 1000, (unsigned long long)h->late,
	       (unsigned long long)h->timeouts);
	CU_ASSERT_EQUAL(h->late, 0);
	CU_ASSERT_EQUAL(h->timeouts, 0);
}

static struct handoff *
handoff_new(const char *name)
{
	static struct handoff h;

	memset(&h, 0, sizeof(h));
	h.ring = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	h.wake.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h.ring);
	CU_ASSERT_FATAL(h.wake.efd >= 0);
	return &h;
}

static void
handoff_free(struct handoff *h)
{
	rte_ring_free(h->ring);
	close(h->wake.efd);
}

static void
test_ping_pong(void)
{
	struct handoff *h = handoff_new("t_wake_pp");

	run(h, 1000000, 1);
	handoff_free(h);
}

static void
test_bursts(void)
{
	struct handoff *h = handoff_new("t_wake_burst");

	run(h, 4000000, 64);
	handoff_free(h);
}

static int
init(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "--no-shconf", "--no-pci",
			"-l", "0", "--log-level=error", NULL};

	return rte_eal_init(9, argv) < 0;
}

static int
cleanup(void)
{
	rte_eal_cleanup();
	return 0;
}

static CU_TestInfo tests[] = {
	{"ping-pong: every message races the consumer's sleep", test_ping_pong},
	{"bursts with gaps", test_bursts},
	CU_TEST_INFO_NULL,
};

int
main(void)
{
	return harness_run("dataplane/wake", tests, init, cleanup);
}
