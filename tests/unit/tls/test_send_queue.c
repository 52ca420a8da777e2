/* SPDX-License-Identifier: BSD-3-Clause */
/* derper's queue policy: two classes, head drop, no starvation. */
#include <stdint.h>

#include "tests/lib/harness.h"
#include "tls/send_queue.h"

#define P(x) ((void *)(uintptr_t)(x))

static void
test_fifo_and_head_drop(void)
{
	struct send_queue q;

	CU_ASSERT_EQUAL_FATAL(sq_init(&q, 32), 0);
	for (int i = 1; i <= 32; i++)
		CU_ASSERT_PTR_NULL(sq_push(&q, SQ_DATA, P(i)));
	/* full: the oldest goes, the new one stays */
	CU_ASSERT_PTR_EQUAL(sq_push(&q, SQ_DATA, P(33)), P(1));
	CU_ASSERT_PTR_EQUAL(sq_push(&q, SQ_DATA, P(34)), P(2));
	CU_ASSERT_EQUAL(sq_len(&q), 32);
	for (int i = 3; i <= 34; i++)
		CU_ASSERT_PTR_EQUAL(sq_pop(&q), P(i));
	CU_ASSERT_PTR_NULL(sq_pop(&q));
	sq_uninit(&q);
}

static void
test_classes_independent(void)
{
	struct send_queue q;

	CU_ASSERT_EQUAL_FATAL(sq_init(&q, 2), 0);
	/* a data flood cannot evict disco */
	sq_push(&q, SQ_DISCO, P(100));
	for (int i = 1; i <= 10; i++)
		sq_push(&q, SQ_DATA, P(i));
	CU_ASSERT_EQUAL(sq_len(&q), 3);
	{
		int disco = 0, data = 0;
		void *x;

		while ((x = sq_pop(&q))) {
			if (x == P(100))
				disco++;
			else
				data++;
		}
		CU_ASSERT_EQUAL(disco, 1);
		CU_ASSERT_EQUAL(data, 2);
	}
	sq_uninit(&q);
}

static void
test_alternates(void)
{
	struct send_queue q;
	void *seen[6];

	CU_ASSERT_EQUAL_FATAL(sq_init(&q, 8), 0);
	for (int i = 0; i < 3; i++) {
		sq_push(&q, SQ_DATA, P(10 + i));
		sq_push(&q, SQ_DISCO, P(20 + i));
	}
	for (int i = 0; i < 6; i++)
		seen[i] = sq_pop(&q);
	/* classes alternate; each class stays in order */
	CU_ASSERT(seen[0] != seen[1]);
	for (int i = 0; i + 2 < 6; i++)
		CU_ASSERT((uintptr_t)seen[i] < (uintptr_t)seen[i + 2]);
	sq_uninit(&q);
}

/* Dropping for a byte budget takes the oldest data packet first, disco
 * only once no data is left. */
static void
test_drop_oldest(void)
{
	struct send_queue q;

	CU_ASSERT_EQUAL_FATAL(sq_init(&q, 4), 0);
	sq_push(&q, SQ_DISCO, P(100));
	sq_push(&q, SQ_DATA, P(1));
	sq_push(&q, SQ_DATA, P(2));
	CU_ASSERT_PTR_EQUAL(sq_drop_oldest(&q), P(1));
	CU_ASSERT_PTR_EQUAL(sq_drop_oldest(&q), P(2));
	CU_ASSERT_PTR_EQUAL(sq_drop_oldest(&q), P(100));
	CU_ASSERT_PTR_NULL(sq_drop_oldest(&q));
	CU_ASSERT_EQUAL(sq_len(&q), 0);
	sq_push(&q, SQ_DATA, P(3));
	CU_ASSERT_PTR_EQUAL(sq_pop(&q), P(3));
	sq_uninit(&q);
}

static CU_TestInfo tests[] = {
	{"drop the oldest for a byte budget", test_drop_oldest},
	{"FIFO and head drop", test_fifo_and_head_drop},
	{"disco and data are separate", test_classes_independent},
	{"classes alternate", test_alternates},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/send_queue", tests)
