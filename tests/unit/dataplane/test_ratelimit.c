/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dataplane/ratelimit.h"
#include "tests/lib/harness.h"

static struct dp_rl_slot slots[1024];

static void
test_rate_and_burst(void)
{
	struct dp_ratelimit rl;
	const uint8_t a[4] = {198, 18, 0, 2}, b[4] = {198, 18, 0, 3};
	uint64_t hz = 1000000, now = 5000000;	/* a 1 MHz clock */
	int ok = 0;

	memset(slots, 0, sizeof(slots));
	dp_ratelimit_init(&rl, slots, 1024, 10, 5, hz);	/* 10/s, burst 5 */
	for (int i = 0; i < 20; i++)
		ok += dp_ratelimit_allow(&rl, a, 4, now);
	CU_ASSERT_EQUAL(ok, 5);
	/* another source is not affected */
	CU_ASSERT(dp_ratelimit_allow(&rl, b, 4, now));
	/* a tenth of a second buys one more */
	CU_ASSERT(!dp_ratelimit_allow(&rl, a, 4, now + 50000));
	CU_ASSERT(dp_ratelimit_allow(&rl, a, 4, now + 100000));
	CU_ASSERT(!dp_ratelimit_allow(&rl, a, 4, now + 100000));
	/* over a long run: the rate holds */
	ok = 0;
	for (uint64_t t = 0; t < 10 * hz; t += 1000)
		ok += dp_ratelimit_allow(&rl, a, 4, now + 2 * hz + t);
	CU_ASSERT(ok >= 100 && ok <= 106);
}

static void
test_off(void)
{
	struct dp_ratelimit rl;
	const uint8_t a[16] = {0};

	dp_ratelimit_init(&rl, slots, 1024, 0, 0, 1000);
	for (int i = 0; i < 1000; i++)
		CU_ASSERT(dp_ratelimit_allow(&rl, a, 16, 0));
}

static CU_TestInfo tests[] = {
	{"rate and burst per source", test_rate_and_burst},
	{"rate 0 is off", test_off},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("dataplane/ratelimit", tests)
