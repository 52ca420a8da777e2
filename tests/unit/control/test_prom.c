/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus / OpenMetrics text. */
#include <math.h>
#include <string.h>

#include "control/prom.h"
#include "tests/lib/harness.h"

static void
test_samples_and_escaping(void)
{
	struct prom p;

	prom_init(&p);
	prom_family(&p, "x_total", "counter", "Things");
	prom_u64(&p, "x_total", 7, NULL);
	prom_u64(&p, "x_total", 18446744073709551615ULL, "peer", "a\"b\\c\nd", "k", "v", NULL);
	prom_double(&p, "g", INFINITY, NULL);
	prom_end(&p);
	CU_ASSERT_FALSE(p.oom);
	CU_ASSERT_STRING_EQUAL(p.buf,
			       "# HELP x_total Things\n# TYPE x_total counter\n"
			       "x_total 7\n"
			       "x_total{peer=\"a\\\"b\\\\c\\nd\",k=\"v\"} 18446744073709551615\n"
			       "g +Inf\n");
	prom_free(&p);
}

static void
test_openmetrics(void)
{
	struct prom p;

	prom_init(&p);
	p.openmetrics = true;
	prom_family(&p, "x_total", "counter", "Things");
	prom_family(&p, "y", "gauge", "Level");
	prom_end(&p);
	CU_ASSERT_STRING_EQUAL(p.buf, "# HELP x Things\n# TYPE x counter\n"
				      "# HELP y Level\n# TYPE y gauge\n# EOF\n");
	prom_free(&p);
}

static void
test_histogram(void)
{
	static const double bounds[] = {0.001, 0.5};
	static const uint64_t counts[] = {2, 0, 3};
	struct prom p;

	prom_init(&p);
	prom_histogram(&p, "h_seconds", bounds, counts, 3, 1.25, "lcore", "0");
	CU_ASSERT_STRING_EQUAL(p.buf,
			       "h_seconds_bucket{lcore=\"0\",le=\"0.001\"} 2\n"
			       "h_seconds_bucket{lcore=\"0\",le=\"0.5\"} 2\n"
			       "h_seconds_bucket{lcore=\"0\",le=\"+Inf\"} 5\n"
			       "h_seconds_sum{lcore=\"0\"} 1.25\n"
			       "h_seconds_count{lcore=\"0\"} 5\n");
	prom_free(&p);
}

static void
test_grows(void)
{
	struct prom p;

	prom_init(&p);
	for (int i = 0; i < 5000; i++)
		prom_u64(&p, "a_long_metric_name_to_fill_the_buffer", (uint64_t)i, NULL);
	CU_ASSERT_FALSE(p.oom);
	CU_ASSERT(p.len > 5000 * 40);
	CU_ASSERT_PTR_NOT_NULL(strstr(p.buf, "a_long_metric_name_to_fill_the_buffer 4999\n"));
	prom_free(&p);
}

static CU_TestInfo tests[] = {
	{"samples and label escaping", test_samples_and_escaping},
	{"OpenMetrics family names and EOF", test_openmetrics},
	{"histogram buckets are cumulative", test_histogram},
	{"the buffer grows", test_grows},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("control/prom", tests)
