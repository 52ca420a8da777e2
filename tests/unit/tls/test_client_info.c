/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tls/client_info.h"

static int
parse(const char *s, struct client_info *ci)
{
	return client_info_parse((const uint8_t *)s, strlen(s), ci);
}

static void
test_regular(void)
{
	struct client_info ci;

	CU_ASSERT_EQUAL(parse("{\"version\":2,\"CanAckPings\":true}", &ci), 0);
	CU_ASSERT_EQUAL(ci.version, 2);
	CU_ASSERT(ci.can_ack_pings);
	CU_ASSERT(!ci.has_mesh_key);
	CU_ASSERT_EQUAL(parse("{\"VERSION\":2,\"isprober\":true,\"AppName\":\"x\",\"unknown\":[1]}", &ci), 0);
	CU_ASSERT(ci.is_prober);
	CU_ASSERT_EQUAL(parse("{\"CanAckPings\":null}", &ci), 0);
}

static void
test_mesh_key(void)
{
	struct client_info ci;

	CU_ASSERT_EQUAL(parse("{\"meshKey\":\"0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef\"}", &ci), 0);
	CU_ASSERT(ci.has_mesh_key);
	CU_ASSERT_EQUAL(ci.mesh_key[0], 0x01);
	/* §5.4: "", null, 63 digits are decode errors */
	CU_ASSERT_EQUAL(parse("{\"meshKey\":\"\"}", &ci), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"meshKey\":null}", &ci), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"MeshKey\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"}", &ci), -EINVAL);
}

static void
test_errors(void)
{
	struct client_info ci;

	CU_ASSERT_EQUAL(parse("{\"version\":2} x", &ci), -EINVAL);	/* trailing data */
	CU_ASSERT_EQUAL(parse("{\"version\":\"2\"}", &ci), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"version\":2.5}", &ci), -EINVAL);
	CU_ASSERT_EQUAL(parse("{\"CanAckPings\":1}", &ci), -EINVAL);
	CU_ASSERT_EQUAL(parse("[]", &ci), -EINVAL);
	CU_ASSERT_EQUAL(parse("", &ci), -EINVAL);
	CU_ASSERT_EQUAL(parse("{", &ci), -EINVAL);
	CU_ASSERT_EQUAL(parse("null", &ci), 0);
}

static CU_TestInfo tests[] = {
	{"regular client", test_regular},
	{"mesh key", test_mesh_key},
	{"decode errors", test_errors},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/client_info", tests)
