/* SPDX-License-Identifier: BSD-3-Clause */
/* derper's admission rules, docs/protocol.md §8.1 and §8.2, row by row. */
#include <errno.h>
#include <string.h>

#include "control/admit_rules.h"
#include "tests/lib/harness.h"

static size_t
blen(const char *s)
{
	return s ? strlen(s) : 0;
}

#define LOCAL(reached, status, body)                                         \
	admit_decide_localapi(reached, status, body, blen(body))
#define HOOK(reached, status, body, open)                                    \
	admit_decide_webhook(reached, status, body, blen(body), open)

static void
expect(struct admit_outcome o, int verdict, int reason, bool cache)
{
	CU_ASSERT_EQUAL(o.verdict, verdict);
	CU_ASSERT_EQUAL(o.reason, reason);
	CU_ASSERT_EQUAL(o.cache, cache);
}

static void
test_localapi(void)
{
	expect(LOCAL(true, 200, "{\"Node\":{},\"UserProfile\":{},\"CapMap\":{}}"),
	       ADMIT_ALLOW, ADMIT_OK, true);
	expect(LOCAL(true, 200, "{}"), ADMIT_ALLOW, ADMIT_OK, true);
	/* the body must be valid JSON for a struct */
	expect(LOCAL(true, 200, "{\"Node\":"), ADMIT_REJECT, ADMIT_LOCALAPI_STATUS, true);
	expect(LOCAL(true, 200, "[1]"), ADMIT_REJECT, ADMIT_LOCALAPI_STATUS, true);
	expect(LOCAL(true, 200, ""), ADMIT_REJECT, ADMIT_LOCALAPI_STATUS, true);
	expect(LOCAL(true, 404, "no match for IP:port\n"), ADMIT_REJECT, ADMIT_UNKNOWN_KEY, true);
	expect(LOCAL(true, 400, "invalid 'addr' parameter\n"), ADMIT_REJECT,
	       ADMIT_VERSION_SKEW, true);
	expect(LOCAL(true, 400, "invalid nodekey in 'addr' parameter\n"), ADMIT_REJECT,
	       ADMIT_LOCALAPI_STATUS, true);
	expect(LOCAL(true, 403, "forbidden"), ADMIT_REJECT, ADMIT_LOCALAPI_STATUS, true);
	expect(LOCAL(true, 500, NULL), ADMIT_REJECT, ADMIT_LOCALAPI_STATUS, true);
	/* socket errors fail closed, and are not remembered */
	expect(LOCAL(false, 0, NULL), ADMIT_REJECT, ADMIT_LOCALAPI_DOWN, false);
}

static void
test_webhook(void)
{
	expect(HOOK(true, 200, "{\"Allow\":true}", true), ADMIT_ALLOW, ADMIT_OK, true);
	/* field names match case-insensitively; unknown fields are ignored */
	expect(HOOK(true, 200, "{\"allow\":true,\"why\":\"ok\"}", false), ADMIT_ALLOW, ADMIT_OK, true);
	expect(HOOK(true, 200, "{\"ALLOW\":true}", false), ADMIT_ALLOW, ADMIT_OK, true);
	/* the last of duplicate fields wins */
	expect(HOOK(true, 200, "{\"Allow\":true,\"allow\":false}", false), ADMIT_REJECT,
	       ADMIT_WEBHOOK_DENY, true);
	expect(HOOK(true, 200, "{\"Allow\":false}", true), ADMIT_REJECT, ADMIT_WEBHOOK_DENY, true);
	expect(HOOK(true, 200, "{}", true), ADMIT_REJECT, ADMIT_WEBHOOK_DENY, true);
	expect(HOOK(true, 200, "{\"Allow\":null}", true), ADMIT_REJECT, ADMIT_WEBHOOK_DENY, true);
	expect(HOOK(true, 200, "null", true), ADMIT_REJECT, ADMIT_WEBHOOK_DENY, true);
	/* a decoder reads one value: what follows does not matter */
	expect(HOOK(true, 200, "{\"Allow\":true}\ngarbage", true), ADMIT_ALLOW, ADMIT_OK, true);
	/* undecodable */
	expect(HOOK(true, 200, "{\"Allow\":\"yes\"}", true), ADMIT_REJECT, ADMIT_WEBHOOK_BODY, true);
	expect(HOOK(true, 200, "{\"Allow\":1}", true), ADMIT_REJECT, ADMIT_WEBHOOK_BODY, true);
	expect(HOOK(true, 200, "[true]", true), ADMIT_REJECT, ADMIT_WEBHOOK_BODY, true);
	expect(HOOK(true, 200, "", true), ADMIT_REJECT, ADMIT_WEBHOOK_BODY, true);
	/* any status but 200 rejects, fail-open or not */
	expect(HOOK(true, 500, "{\"Allow\":true}", true), ADMIT_REJECT, ADMIT_WEBHOOK_STATUS, true);
	expect(HOOK(true, 204, NULL, true), ADMIT_REJECT, ADMIT_WEBHOOK_STATUS, true);
	expect(HOOK(true, 302, NULL, true), ADMIT_REJECT, ADMIT_WEBHOOK_STATUS, true);
	/* unreachable: fail-open decides; never remembered */
	expect(HOOK(false, 0, NULL, true), ADMIT_ALLOW, ADMIT_FAIL_OPEN, false);
	expect(HOOK(false, 0, NULL, false), ADMIT_REJECT, ADMIT_WEBHOOK_DOWN, false);
}

/* Only the first 4 KiB are read: a longer answer does not decode. */
static void
test_webhook_size(void)
{
	static char big[8192];
	size_t n;

	memset(big, ' ', sizeof(big));
	n = (size_t)snprintf(big + 5000, 100, "{\"Allow\":true}");
	CU_ASSERT_EQUAL(admit_decide_webhook(true, 200, big, 5000 + n, true).reason,
			ADMIT_WEBHOOK_BODY);
	CU_ASSERT_EQUAL(admit_decide_webhook(true, 200, big + 5000 - 4000, 4000 + n, true).verdict,
			ADMIT_ALLOW);
}

static void
test_source(void)
{
	uint8_t ip[16] = {0};
	char s[64];

	admit_source(ip, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "");
	ip[10] = ip[11] = 0xff;
	ip[12] = 198;
	ip[13] = 18;
	ip[15] = 7;
	admit_source(ip, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "198.18.0.7");
	memset(ip, 0, sizeof(ip));
	ip[0] = 0x20;
	ip[1] = 0x01;
	ip[2] = 0x0d;
	ip[3] = 0xb8;
	ip[15] = 1;
	admit_source(ip, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "2001:db8::1");
	CU_ASSERT_STRING_EQUAL(admit_reason_name(ADMIT_UNKNOWN_KEY), "unknown_key");
	CU_ASSERT_STRING_EQUAL(admit_reason_name(99), "unknown");
}

/* tailscaled v1.34's /localapi/v0/status, trimmed to what matters: Self and
 * peers keyed by node key (each with its PublicKey too). */
#define K(c) "nodekey:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
		    c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
static void
test_status_peer_set(void)
{
	static const char body[] =
		"{\"Version\":\"1.34.2\",\"BackendState\":\"Running\","
		"\"Self\":{\"ID\":\"n1\",\"PublicKey\":\"" K("b") "\",\"Online\":true},"
		"\"Peer\":{\"" K("a") "\":{\"PublicKey\":\"" K("a") "\",\"Online\":false},"
		"\"" K("c") "\":{\"PublicKey\":\"" K("c") "\"}},\"User\":null}";
	uint8_t keys[8][32], k[32];
	size_t n = 99;

	CU_ASSERT_EQUAL(admit_parse_status(body, strlen(body), keys, 8, &n), 0);
	CU_ASSERT_EQUAL(n, 3);			/* a, b, c; duplicates folded */
	memset(k, 0xaa, 32);
	CU_ASSERT(admit_key_in((const uint8_t (*)[32])keys, n, k));
	memset(k, 0xcc, 32);
	CU_ASSERT(admit_key_in((const uint8_t (*)[32])keys, n, k));
	memset(k, 0xdd, 32);
	CU_ASSERT(!admit_key_in((const uint8_t (*)[32])keys, n, k));
	CU_ASSERT(memcmp(keys[0], keys[1], 32) < 0 && memcmp(keys[1], keys[2], 32) < 0);
	/* no room */
	CU_ASSERT_EQUAL(admit_parse_status(body, strlen(body), keys, 2, &n), -E2BIG);
	CU_ASSERT_EQUAL(n, 0);
	/* not a status: no Self key, not an object, not JSON */
	CU_ASSERT_EQUAL(admit_parse_status("{\"Peer\":{}}", 11, keys, 8, &n), -EINVAL);
	CU_ASSERT_EQUAL(admit_parse_status("[]", 2, keys, 8, &n), -EINVAL);
	CU_ASSERT_EQUAL(admit_parse_status("{", 1, keys, 8, &n), -EINVAL);
	{
		static const char bad[] = "{\"Self\":{\"PublicKey\":\"nodekey:12\"}}";

		CU_ASSERT_EQUAL(admit_parse_status(bad, strlen(bad), keys, 8, &n), -EINVAL);
	}
	{
		static const char alone[] = "{\"Self\":{\"PublicKey\":\"" K("e") "\"},\"Peer\":null}";

		CU_ASSERT_EQUAL(admit_parse_status(alone, strlen(alone), keys, 8, &n), 0);
		CU_ASSERT_EQUAL(n, 1);
	}
}

static CU_TestInfo tests[] = {
	{"LocalAPI status: the peer set", test_status_peer_set},
	{"LocalAPI whois answers (§8.1)", test_localapi},
	{"webhook answers (§8.2)", test_webhook},
	{"webhook body read to 4 KiB", test_webhook_size},
	{"Source address text", test_source},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("control/admit_rules", tests)
