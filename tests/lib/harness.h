/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUnit glue: every test program is one suite named after the source file
 * it tests ("config/schema"), run with the basic runner. The exit status
 * is non-zero when any assertion failed, which is what meson test reads.
 */
#ifndef DERPER_TESTS_HARNESS_H
#define DERPER_TESTS_HARNESS_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

int harness_run(const char *suite, CU_TestInfo *tests,
		int (*init)(void), int (*cleanup)(void));

/* Path of a file in the source tree (tests run from the build dir). */
const char *harness_src(const char *rel);

/* Write `text` to a fresh temporary file; returns its path (static). */
const char *harness_tmpfile(const char *name, const char *text);

#define HARNESS_MAIN(suite, tests)                                       \
	int main(void) { return harness_run(suite, tests, NULL, NULL); }

#endif /* DERPER_TESTS_HARNESS_H */
