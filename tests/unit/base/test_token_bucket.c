/* SPDX-License-Identifier: BSD-3-Clause */
#include "base/token_bucket.h"
#include "tests/lib/harness.h"

static void
test_starts_full_and_refills(void)
{
	struct token_bucket b = {0};

	/* 2 per second, burst 3: three at once, then one per 500 ms */
	for (int i = 0; i < 3; i++)
		CU_ASSERT(tb_take(&b, 2, 3, 1000, 1));
	CU_ASSERT(!tb_take(&b, 2, 3, 1000, 1));
	CU_ASSERT(!tb_take(&b, 2, 3, 1499, 1));
	CU_ASSERT(tb_take(&b, 2, 3, 1500, 1));
	/* a long pause refills to the burst, never beyond */
	CU_ASSERT_DOUBLE_EQUAL(tb_refill(&b, 2, 3, 100000), 3.0, 1e-9);
	/* a clock that does not advance earns nothing */
	CU_ASSERT_DOUBLE_EQUAL(tb_refill(&b, 2, 3, 50000), 3.0, 1e-9);
}

static void
test_debit_below_zero(void)
{
	struct token_bucket b = {0};

	tb_debit(&b, 100);		/* never refilled: not in use */
	CU_ASSERT_DOUBLE_EQUAL(tb_refill(&b, 1000, 500, 10), 500.0, 1e-9);
	tb_debit(&b, 1500);		/* read 1500 bytes on a 500-byte bucket */
	CU_ASSERT(tb_refill(&b, 1000, 500, 10) < 0);
	CU_ASSERT_EQUAL(tb_wait_ms(&b, 1000), 1001);
	CU_ASSERT(tb_refill(&b, 1000, 500, 10 + 1001) > 0);
	CU_ASSERT_EQUAL(tb_wait_ms(&b, 1000), 0);
}

static CU_TestInfo tests[] = {
	{"starts full, refills at its rate, capped at the burst", test_starts_full_and_refills},
	{"debts below zero and the wait they cost", test_debit_below_zero},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("base/token_bucket", tests)
