/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "tests/lib/harness.h"
#include "tls/http.h"

static int
parse(const char *s, struct http_req *r)
{
	size_t end = http_head_end(s, strlen(s), 0);

	if (!end)
		return -1;
	return http_parse_request(s, end, r);
}

static void
test_head_end(void)
{
	const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";

	CU_ASSERT_EQUAL(http_head_end(s, strlen(s), 0), strlen(s) - 4);
	CU_ASSERT_EQUAL(http_head_end("GET / HTTP/1.1\nHost: x\n\n", 24, 0), 24);
	CU_ASSERT_EQUAL(http_head_end(s, 20, 0), 0);
	/* resumable: a terminator split across calls is found */
	for (size_t i = 1; i < strlen(s) - 4; i++)
		CU_ASSERT_EQUAL(http_head_end(s, strlen(s), i), strlen(s) - 4);
}

static void
test_derp_upgrade(void)
{
	struct http_req r;

	CU_ASSERT_EQUAL(parse("GET /derp HTTP/1.1\r\nHost: derp.example.com\r\n"
			      "User-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\n"
			      "Upgrade: DERP\r\nDerp-Fast-Start: 1\r\nIdeal-Node: 1a\r\n\r\n", &r), 0);
	CU_ASSERT(http_str_eq(r.method, "GET"));
	CU_ASSERT(http_str_eq(r.path, "/derp"));
	CU_ASSERT(http_str_eq(r.upgrade, "derp"));
	CU_ASSERT(http_str_eq(r.fast_start, "1"));
	CU_ASSERT(http_str_eq(r.ideal_node, "1a"));
	CU_ASSERT(http_str_eq(r.host, "derp.example.com"));
	CU_ASSERT_EQUAL(r.minor, 1);
	CU_ASSERT(r.keep_alive);
	CU_ASSERT(!r.has_body);
}

static void
test_target_forms(void)
{
	struct http_req r;

	CU_ASSERT_EQUAL(parse("GET /generate_204?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	CU_ASSERT(http_str_eq(r.path, "/generate_204"));
	CU_ASSERT(http_str_eq(r.query, "x=1"));
	CU_ASSERT_EQUAL(parse("GET http://h.example/derp/probe HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	CU_ASSERT(http_str_eq(r.path, "/derp/probe"));
	CU_ASSERT_EQUAL(parse("GET https://h.example HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	CU_ASSERT(http_str_eq(r.path, "/"));
	CU_ASSERT_EQUAL(parse("CONNECT h.example:443 HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	CU_ASSERT_EQUAL(parse("GET relative HTTP/1.1\r\nHost: x\r\n\r\n", &r), 400);
}

static void
test_errors(void)
{
	struct http_req r;

	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\n\r\n", &r), 400);	/* no Host */
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.0\r\n\r\n", &r), 0);	/* 1.0 needs none */
	CU_ASSERT(!r.keep_alive);
	CU_ASSERT_EQUAL(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n", &r), 505);
	CU_ASSERT_EQUAL(parse("GET / FTP/1.1\r\nHost: x\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nHost : x\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nHost: x\rx\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", &r), 400);
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", &r), 501);
	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 0);
	CU_ASSERT(r.has_body);
	CU_ASSERT_EQUAL(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", &r), 0);
	CU_ASSERT(r.has_body);
}

static void
test_header_limit(void)
{
	char buf[16384];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: x\r\n");
	struct http_req r;

	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: y\r\n", i);
	snprintf(buf + n, sizeof(buf) - n, "\r\n");
	CU_ASSERT_EQUAL(parse(buf, &r), 431);
}

static void
test_first_value_wins_and_ci(void)
{
	struct http_req r;

	CU_ASSERT_EQUAL(parse("GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\nconnection: close\r\n\r\n", &r), 0);
	CU_ASSERT(http_str_eq(r.host, "a"));
	CU_ASSERT(!r.keep_alive);
	CU_ASSERT(http_str_contains(r.connection, "CLOSE"));
	CU_ASSERT(!http_str_contains(r.connection, "keep-alive"));
}

static CU_TestInfo tests[] = {
	{"head end", test_head_end},
	{"DERP upgrade request", test_derp_upgrade},
	{"request targets", test_target_forms},
	{"malformed heads", test_errors},
	{"header count limit", test_header_limit},
	{"first value wins, case-insensitive", test_first_value_wins_and_ci},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/http", tests)
