/* SPDX-License-Identifier: BSD-3-Clause */
/* ACME messages (RFC 8555 §7.1) as read from the network. */
#include <string.h>

#include <jansson.h>

#include "control/acme_msg.h"
#include "control/json_body.h"
#include "tests/lib/harness.h"

static char err[256];

#define PARSE(fn, json, out) fn(json, strlen(json), out, err, sizeof(err))

static void
test_directory(void)
{
	struct acme_directory d;

	CU_ASSERT_EQUAL(PARSE(acme_parse_directory,
			      "{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/acct\","
			      "\"newOrder\":\"https://a/o\",\"meta\":{\"termsOfService\":\"x\"}}", &d), 0);
	CU_ASSERT_STRING_EQUAL(d.new_order, "https://a/o");
	CU_ASSERT_EQUAL(PARSE(acme_parse_directory, "{\"newNonce\":\"https://a/n\"}", &d), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "newAccount"));
	CU_ASSERT_EQUAL(PARSE(acme_parse_directory,
			      "{\"newNonce\":\"http://a/n\",\"newAccount\":\"https://a/a\","
			      "\"newOrder\":\"https://a/o\"}", &d), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "https"));
	CU_ASSERT_EQUAL(PARSE(acme_parse_directory, "[1]", &d), -1);
	CU_ASSERT_EQUAL(PARSE(acme_parse_directory, "{\"a\":1,\"a\":2}", &d), -1);
	CU_ASSERT_EQUAL(acme_parse_directory("{\"newNonce\":\"https://a\\u0000b\"}", 32, &d,
					     err, sizeof(err)), -1);
}

static void
test_order(void)
{
	struct acme_order o;

	CU_ASSERT_EQUAL(PARSE(acme_parse_order,
			      "{\"status\":\"pending\",\"finalize\":\"https://a/f\","
			      "\"authorizations\":[\"https://a/z1\",\"https://a/z2\"],"
			      "\"identifiers\":[{\"type\":\"dns\",\"value\":\"x.y\"}]}", &o), 0);
	CU_ASSERT_EQUAL(o.status, ACME_ST_PENDING);
	CU_ASSERT_EQUAL(o.nb_authz, 2);
	CU_ASSERT_STRING_EQUAL(o.authz[1], "https://a/z2");
	CU_ASSERT_STRING_EQUAL(o.certificate, "");
	CU_ASSERT_EQUAL(PARSE(acme_parse_order,
			      "{\"status\":\"valid\",\"finalize\":\"https://a/f\","
			      "\"certificate\":\"https://a/c\",\"authorizations\":[\"https://a/z\"]}", &o), 0);
	CU_ASSERT_EQUAL(o.status, ACME_ST_VALID);
	CU_ASSERT_STRING_EQUAL(o.certificate, "https://a/c");
	CU_ASSERT_EQUAL(PARSE(acme_parse_order,
			      "{\"status\":\"weird\",\"finalize\":\"https://a/f\","
			      "\"authorizations\":[\"https://a/z\"]}", &o), -1);
	CU_ASSERT_EQUAL(PARSE(acme_parse_order,
			      "{\"status\":\"ready\",\"finalize\":\"https://a/f\",\"authorizations\":[]}", &o), -1);
	CU_ASSERT_EQUAL(PARSE(acme_parse_order,
			      "{\"status\":\"ready\",\"finalize\":\"https://a/f\",\"authorizations\":[7]}", &o), -1);
	CU_ASSERT_EQUAL(PARSE(acme_parse_order,
			      "{\"status\":\"ready\",\"finalize\":\"ftp://a/f\",\"authorizations\":[\"https://a/z\"]}", &o), -1);
}

static void
test_authz(void)
{
	struct acme_authz a;
	const struct acme_challenge *c;

	CU_ASSERT_EQUAL(PARSE(acme_parse_authz,
			      "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"x.y\"},"
			      "\"challenges\":[{\"type\":\"dns-01\",\"url\":\"https://a/c1\",\"token\":\"t1\"},"
			      "{\"type\":\"http-01\",\"url\":\"https://a/c2\",\"token\":\"a-b_C9\",\"status\":\"pending\"},"
			      "{\"type\":\"tls-alpn-01\",\"url\":\"https://a/c3\",\"token\":\"../etc\"},"
			      "{\"type\":7},\"junk\"]}", &a), 0);
	CU_ASSERT_STRING_EQUAL(a.identifier, "x.y");
	CU_ASSERT_EQUAL(a.nb_challenges, 2);	/* the bad token and the junk are skipped */
	c = acme_authz_challenge(&a, "http-01");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->token, "a-b_C9");
	CU_ASSERT_STRING_EQUAL(c->url, "https://a/c2");
	CU_ASSERT_PTR_NULL(acme_authz_challenge(&a, "tls-alpn-01"));
	CU_ASSERT_EQUAL(PARSE(acme_parse_authz, "{\"status\":\"valid\",\"challenges\":[]}", &a), -1);
	CU_ASSERT_EQUAL(PARSE(acme_parse_authz,
			      "{\"status\":\"valid\",\"identifier\":{\"value\":\"x\"},\"challenges\":{}}", &a), -1);
}

static void
test_problem_and_retry_after(void)
{
	struct acme_problem p;
	const char *j = "{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
			"\"detail\":\"too \\\"many\\\"\\ncerts\"}";

	acme_parse_problem(j, strlen(j), &p);
	CU_ASSERT_STRING_EQUAL(p.type, "urn:ietf:params:acme:error:rateLimited");
	CU_ASSERT_STRING_EQUAL(p.detail, "too 'many''certs");
	acme_parse_problem("<html>", 6, &p);
	CU_ASSERT_STRING_EQUAL(p.type, "");
	CU_ASSERT_EQUAL(acme_retry_after("120", 0), 120);
	CU_ASSERT_EQUAL(acme_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", 40), 60);
	CU_ASSERT_EQUAL(acme_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 40), 0);
	CU_ASSERT_EQUAL(acme_retry_after("-5", 0), -1);
	CU_ASSERT_EQUAL(acme_retry_after("soon", 0), -1);
	CU_ASSERT_EQUAL(acme_retry_after("", 0), -1);
	CU_ASSERT_EQUAL(acme_retry_after(NULL, 0), -1);
}

static void
test_b64url(void)
{
	static const uint8_t bin[] = {0xfb, 0xff};
	char out[16];

	/* RFC 4648 §10 vectors, URL alphabet, no padding */
	CU_ASSERT_EQUAL(acme_b64url((const uint8_t *)"", 0, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	acme_b64url((const uint8_t *)"f", 1, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "Zg");
	acme_b64url((const uint8_t *)"fo", 2, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "Zm8");
	acme_b64url((const uint8_t *)"foobar", 6, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "Zm9vYmFy");
	acme_b64url(bin, 2, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "-_8");
	CU_ASSERT_EQUAL(acme_b64url((const uint8_t *)"foobar", 6, out, 8), 0);
	CU_ASSERT_TRUE(acme_b64url_valid("a-b_C9"));
	CU_ASSERT_FALSE(acme_b64url_valid("a/b"));
	CU_ASSERT_FALSE(acme_b64url_valid("a=b"));
	CU_ASSERT_FALSE(acme_b64url_valid(""));
}

/* An operator's contact email with a quote or a backslash stays one JSON
 * string (it was pasted into the newAccount body unescaped before). */
static void
test_json_bodies_escape(void)
{
	char out[256];
	json_t *j, *c;
	size_t n;

	n = ctl_json_pack(out, sizeof(out), "{s:b, s:[s]}", "termsOfServiceAgreed", 1,
			  "contact", "mailto:a\"],\"x\":[\"\\b@example.com");
	CU_ASSERT(n > 0);
	j = json_loads(out, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(json_object_size(j), 2);
	c = json_object_get(j, "contact");
	CU_ASSERT_EQUAL(json_array_size(c), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(c, 0)),
			       "mailto:a\"],\"x\":[\"\\b@example.com");
	json_decref(j);
	/* RFC 7638: sorted members, no white space */
	CU_ASSERT(ctl_json_pack(out, sizeof(out), "{s:s, s:s, s:s, s:s}", "y", "Y", "x", "X",
				"kty", "EC", "crv", "P-256") > 0);
	CU_ASSERT_STRING_EQUAL(out, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"X\",\"y\":\"Y\"}");
	CU_ASSERT_EQUAL(ctl_json_pack(out, 8, "{s:s}", "csr", "too long for 8"), 0);
}

static CU_TestInfo tests[] = {
	{"directory", test_directory},
	{"orders", test_order},
	{"authorizations and challenges", test_authz},
	{"problems and Retry-After", test_problem_and_retry_after},
	{"base64url", test_b64url},
	{"request bodies escape their strings", test_json_bodies_escape},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("control/acme_msg", tests)
