/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "tests/lib/harness.h"

static void
test_doubles_from_first(void)
{
	size_t cap = 0;
	char *b = buf_grow(NULL, &cap, 100, 64, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(cap, 128);
	CU_ASSERT_PTR_EQUAL(buf_grow(b, &cap, 128, 64, 0), b);	/* fits */
	b = buf_grow(b, &cap, 129, 64, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(cap, 256);
	free(b);
}

/* The limit is a limit, and sizes that would wrap are refused instead of
 * doubling forever (a uint32_t capacity once did past 2 GiB). */
static void
test_limits_and_wrap(void)
{
	size_t cap = 0;
	char *b = buf_grow(NULL, &cap, 1000, 64, 1500);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(cap, 1024);
	CU_ASSERT_PTR_NULL(buf_grow(b, &cap, 1501, 64, 1500));
	CU_ASSERT_EQUAL(cap, 1024);			/* untouched */
	b = buf_grow(b, &cap, 1500, 64, 1500);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(cap, 1500);			/* capped, not 2048 */
	CU_ASSERT_PTR_NULL(buf_grow(b, &cap, SIZE_MAX, 64, 0));
	CU_ASSERT_PTR_NULL(buf_grow(b, &cap, SIZE_MAX / 2 + 1, 64, 0));
	CU_ASSERT_EQUAL(cap, 1500);
	free(b);
}

static CU_TestInfo tests[] = {
	{"doubles from its first size", test_doubles_from_first},
	{"limit and sizes that would wrap", test_limits_and_wrap},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("base/buf", tests)
