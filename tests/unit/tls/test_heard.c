/* SPDX-License-Identifier: BSD-3-Clause */
/* The who-heard-from-whom index against a naive model, under random
 * operations, including hash deletions and slot reuse. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tls/heard.h"

enum { CONNS = 40, KEYS = 60 };

static struct heard_conn conns[CONNS];
static bool model[CONNS][KEYS];
static uint8_t keys[KEYS][32];
static uint32_t gens[CONNS];
static int taken[CONNS];

static struct heard_conn *
take_cb(void *ctx, uint32_t id, uint32_t gen)
{
	(void)ctx;
	CU_ASSERT_EQUAL(gen, gens[id]);
	taken[id]++;
	return &conns[id];
}

static void
test_random_against_model(void)
{
	struct heard_index h;

	heard_init(&h);
	srand(42);
	for (int k = 0; k < KEYS; k++)
		for (int b = 0; b < 32; b++)
			keys[k][b] = (uint8_t)rand();
	for (int c = 0; c < CONNS; c++) {
		conns[c] = (struct heard_conn)HEARD_CONN_INIT;
		gens[c] = 1;
	}
	for (int step = 0; step < 200000; step++) {
		int op = rand() % 100, c = rand() % CONNS, k = rand() % KEYS;

		if (op < 85) {
			CU_ASSERT_EQUAL(heard_add(&h, &conns[c], (uint32_t)c, gens[c], keys[k]), 0);
			model[c][k] = true;
		} else if (op < 95) {
			int want = 0;

			memset(taken, 0, sizeof(taken));
			heard_take(&h, keys[k], take_cb, NULL);
			for (int i = 0; i < CONNS; i++) {
				CU_ASSERT_EQUAL(taken[i], model[i][k] ? 1 : 0);
				want += model[i][k];
				model[i][k] = false;
			}
			(void)want;
		} else {
			heard_forget(&h, &conns[c]);
			gens[c]++;
			for (int i = 0; i < KEYS; i++)
				model[c][i] = false;
		}
	}
	{
		uint32_t n = 0;

		for (int c = 0; c < CONNS; c++)
			for (int k = 0; k < KEYS; k++)
				n += model[c][k];
		CU_ASSERT_EQUAL(heard_records(&h), n);
	}
	for (int c = 0; c < CONNS; c++)
		heard_forget(&h, &conns[c]);
	CU_ASSERT_EQUAL(heard_records(&h), 0);
	CU_ASSERT_EQUAL(h.nb_keys, 0);
	heard_uninit(&h);
}

static void
test_take_then_add_again(void)
{
	struct heard_index h;
	struct heard_conn *c = &conns[0];
	uint8_t k[32] = {9};

	heard_init(&h);
	*c = (struct heard_conn)HEARD_CONN_INIT;
	gens[0] = 1;
	CU_ASSERT_EQUAL(heard_add(&h, c, 0, 1, k), 0);
	CU_ASSERT_EQUAL(heard_add(&h, c, 0, 1, k), 0);	/* once per pair */
	CU_ASSERT_EQUAL(heard_records(&h), 1);
	memset(taken, 0, sizeof(taken));
	heard_take(&h, k, take_cb, NULL);
	CU_ASSERT_EQUAL(taken[0], 1);
	CU_ASSERT_EQUAL(heard_records(&h), 0);
	/* the key comes back: the one-entry cache must not hide it */
	CU_ASSERT_EQUAL(heard_add(&h, c, 0, 1, k), 0);
	CU_ASSERT_EQUAL(heard_records(&h), 1);
	heard_forget(&h, c);
	CU_ASSERT_EQUAL(heard_records(&h), 0);
	heard_uninit(&h);
}

static CU_TestInfo tests[] = {
	{"random operations vs model", test_random_against_model},
	{"take, then add again", test_take_then_add_again},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/heard", tests)
