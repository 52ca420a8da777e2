/* SPDX-License-Identifier: BSD-3-Clause */
/* What a SIGHUP may change (config/diff.c). */
#include <stdlib.h>
#include <string.h>

#include "config/diff.h"
#include "config/merge.h"
#include "tests/lib/harness.h"

static struct derper_config *a, *b;
static char keys[512];

static void
reset(void)
{
	cfg_defaults(a);
	cfg_defaults(b);
}

static void
test_identical(void)
{
	reset();
	CU_ASSERT_EQUAL(cfg_fixed_changes(a, b, keys, sizeof(keys)), 0);
	CU_ASSERT_STRING_EQUAL(keys, "");
	CU_ASSERT_EQUAL(cfg_reloadable_changes(a, b, keys, sizeof(keys)), 0);
}

static void
test_reloadable_keys(void)
{
	reset();
	b->limits.max_sessions = 3;
	b->log.level = CFG_LOG_DEBUG;
	b->verify.cache_ttl_s = 60;
	b->stun.tailscale_only = true;
	CU_ASSERT_EQUAL(cfg_fixed_changes(a, b, keys, sizeof(keys)), 0);
	CU_ASSERT_EQUAL(cfg_reloadable_changes(a, b, keys, sizeof(keys)), 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(keys, "limits.max_sessions"));
	CU_ASSERT_PTR_NOT_NULL(strstr(keys, "log.level"));
	CU_ASSERT_PTR_NOT_NULL(strstr(keys, "stun.tailscale_only"));
}

static void
test_fixed_keys(void)
{
	reset();
	b->stun.port = 3479;
	strcpy(b->hostname, "derp2.example.com");
	b->stun.rate_limit_pps = 10;		/* sized at start */
	b->mesh.peers.n = 1;
	strcpy(b->mesh.peers.v[0], "derp3.example.com");
	CU_ASSERT_EQUAL(cfg_fixed_changes(a, b, keys, sizeof(keys)), 4);
	CU_ASSERT_STRING_EQUAL(keys, "hostname, stun.port, stun.rate_limit_pps, mesh.peers");
	reset();
	b->dataplane.nb_ports = 1;
	strcpy(b->dataplane.ports[0].device, "net_null0");
	CU_ASSERT_EQUAL(cfg_fixed_changes(a, b, keys, sizeof(keys)), 1);
	CU_ASSERT_STRING_EQUAL(keys, "dataplane.ports");
	a->dataplane.nb_ports = 1;
	strcpy(a->dataplane.ports[0].device, "net_null0");
	strcpy(b->dataplane.ports[0].gateway, "198.18.0.1");
	CU_ASSERT_EQUAL(cfg_fixed_changes(a, b, keys, sizeof(keys)), 1);
	/* a short buffer: the count stays right */
	CU_ASSERT_EQUAL(cfg_fixed_changes(a, b, keys, 4), 1);
}

static int
init(void)
{
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	return a && b ? 0 : -1;
}

static int
cleanup(void)
{
	free(a);
	free(b);
	return 0;
}

static CU_TestInfo tests[] = {
	{"identical snapshots", test_identical},
	{"reloadable keys", test_reloadable_keys},
	{"keys that need a restart", test_fixed_keys},
	CU_TEST_INFO_NULL,
};

int
main(void)
{
	return harness_run("config/diff", tests, init, cleanup);
}
