/* SPDX-License-Identifier: BSD-3-Clause */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"

int
harness_run(const char *suite, CU_TestInfo *tests, int (*init)(void),
	    int (*cleanup)(void))
{
	CU_SuiteInfo suites[] = {
		{(char *)suite, init, cleanup, NULL, NULL, tests},
		CU_SUITE_INFO_NULL,
	};
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "CU_register_suites: %s\n", CU_get_error_msg());
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed() +
		 CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

const char *
harness_src(const char *rel)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", DERPER_SOURCE_ROOT, rel);
	return path;
}

static char tmp_dir[64];
static char tmp_files[128][PATH_MAX];
static unsigned int nb_tmp_files;

static void
tmp_cleanup(void)
{
	for (unsigned int i = 0; i < nb_tmp_files; i++)
		unlink(tmp_files[i]);
	if (tmp_dir[0])
		rmdir(tmp_dir);
}

const char *
harness_tmpfile(const char *name, const char *text)
{
	char *path;
	FILE *f;

	if (!tmp_dir[0]) {
		snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/derper-test-XXXXXX");
		if (!mkdtemp(tmp_dir))
			abort();
		atexit(tmp_cleanup);
	}
	if (nb_tmp_files >= sizeof(tmp_files) / sizeof(tmp_files[0]))
		abort();
	path = tmp_files[nb_tmp_files++];
	snprintf(path, PATH_MAX, "%s/%s", tmp_dir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return path;
}
