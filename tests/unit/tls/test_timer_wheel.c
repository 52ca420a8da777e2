/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdint.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tls/timer_wheel.h"

struct item {
	struct tw_node node;	/* first: the node is the item */
	uint64_t due, fired_at;
	int fires;
};

static uint64_t now;

static void
fire(struct tw_node *n, void *arg)
{
	struct item *it = (struct item *)n;

	(void)arg;
	it->fires++;
	it->fired_at = now;
}

static void
test_fires_when_due_and_not_before(void)
{
	struct timer_wheel w;
	struct item it[3];

	memset(it, 0, sizeof(it));
	now = 1000;
	tw_init(&w, 250, now);
	tw_arm(&w, &it[0].node, 1600);		/* due in the tick of 1500 */
	tw_arm(&w, &it[1].node, 1000 + 200000);	/* beyond one turn (128 s) */
	tw_arm(&w, &it[2].node, 900);		/* already due: next advance */
	for (now = 1000; now <= 1000 + 200000; now += 250)
		tw_advance(&w, now, fire, NULL);
	CU_ASSERT_EQUAL(it[2].fires, 1);
	CU_ASSERT_EQUAL(it[2].fired_at, 1250);
	CU_ASSERT_EQUAL(it[0].fires, 1);
	CU_ASSERT(it[0].fired_at >= 1500 && it[0].fired_at < 1600 + 250);
	CU_ASSERT_EQUAL(it[1].fires, 1);
	CU_ASSERT(it[1].fired_at >= 201000 - 250 && it[1].fired_at <= 201000);
	CU_ASSERT_EQUAL(w.nb_armed, 0);
}

static void
test_earlier_moves_later_is_lazy_cancel(void)
{
	struct timer_wheel w;
	struct item a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	now = 0;
	tw_init(&w, 250, now);
	tw_arm(&w, &a.node, 10000);
	tw_arm(&w, &a.node, 2000);		/* earlier: moved */
	CU_ASSERT_EQUAL(a.node.at_ms, 2000);
	tw_arm(&w, &a.node, 50000);		/* later: stays, looked at at 2000 */
	CU_ASSERT_EQUAL(a.node.at_ms, 2000);
	tw_arm(&w, &b.node, 3000);
	tw_cancel(&w, &b.node);
	CU_ASSERT(!tw_armed(&b.node));
	for (now = 0; now <= 5000; now += 250)
		tw_advance(&w, now, fire, NULL);
	CU_ASSERT_EQUAL(a.fires, 1);
	CU_ASSERT_EQUAL(b.fires, 0);
}

/* A thread that slept past a whole turn still fires everything due. */
static void
test_long_sleep(void)
{
	struct timer_wheel w;
	struct item it[64];

	memset(it, 0, sizeof(it));
	now = 0;
	tw_init(&w, 250, now);
	for (int i = 0; i < 64; i++)
		tw_arm(&w, &it[i].node, 1000 + (uint64_t)i * 3000);
	now = 1000000;
	CU_ASSERT_EQUAL(tw_advance(&w, now, fire, NULL), 64);
	for (int i = 0; i < 64; i++)
		CU_ASSERT_EQUAL(it[i].fires, 1);
	CU_ASSERT_EQUAL(w.nb_armed, 0);
}

static CU_TestInfo tests[] = {
	{"fires when due, not before, beyond one turn too", test_fires_when_due_and_not_before},
	{"earlier moves, later is lazy, cancel", test_earlier_moves_later_is_lazy_cancel},
	{"a sleep longer than a turn", test_long_sleep},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/timer_wheel", tests)
