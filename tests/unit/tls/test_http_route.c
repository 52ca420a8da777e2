/* SPDX-License-Identifier: BSD-3-Clause */
/* derper's routes (docs/protocol.md §10.1). */
#include <string.h>

#include "tests/lib/harness.h"
#include "tls/http_route.h"

static char out[16384];
static size_t out_len;

static enum http_action
route(const char *req, const struct http_route_cfg *rc)
{
	struct http_req r;
	size_t end = http_head_end(req, strlen(req), 0);

	CU_ASSERT_FATAL(end > 0);
	CU_ASSERT_EQUAL_FATAL(http_parse_request(req, end, &r), 0);
	memset(out, 0, sizeof(out));
	return http_route(&r, rc, out, sizeof(out) - 1, &out_len);
}

static const struct http_route_cfg def = {.derp = true, .home = "", .tls = true};

static void
test_derp_upgrades(void)
{
	struct http_route_cfg off = def;

	CU_ASSERT_EQUAL(route("GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\n\r\n", &def),
			HTTP_UPGRADE_DERP);
	CU_ASSERT_EQUAL(route("POST /derp HTTP/1.1\r\nHost: x\r\nUpgrade: derp\r\n\r\n", &def),
			HTTP_UPGRADE_DERP);
	CU_ASSERT_EQUAL(route("GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			      "Sec-WebSocket-Protocol: derp\r\n\r\n", &def), HTTP_UPGRADE_WS);
	/* old clients: "WebSocket" without the subprotocol spoke raw DERP */
	CU_ASSERT_EQUAL(route("GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n\r\n", &def),
			HTTP_UPGRADE_DERP);
	CU_ASSERT_EQUAL(route("GET /derp HTTP/1.1\r\nHost: x\r\n\r\n", &def), HTTP_RESPOND);
	CU_ASSERT(strncmp(out, "HTTP/1.1 426 Upgrade Required\r\n", 31) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\r\n\r\nDERP requires connection upgrade\n"));
	off.derp = false;
	CU_ASSERT_EQUAL(route("GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: DERP\r\n\r\n", &off),
			HTTP_RESPOND);
	CU_ASSERT(strncmp(out, "HTTP/1.1 404", 12) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "derp server disabled\n"));
}

static void
test_probe_204_robots(void)
{
	CU_ASSERT_EQUAL(route("HEAD /derp/probe HTTP/1.1\r\nHost: x\r\n\r\n", &def), HTTP_RESPOND);
	CU_ASSERT(strncmp(out, "HTTP/1.1 200 OK", 15) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Access-Control-Allow-Origin: *\r\n"));
	route("PUT /derp/latency-check HTTP/1.1\r\nHost: x\r\n\r\n", &def);
	CU_ASSERT(strncmp(out, "HTTP/1.1 405", 12) == 0);
	route("GET /generate_204 HTTP/1.1\r\nHost: x\r\nX-Tailscale-Challenge: ts_a.b:c-d\r\n\r\n", &def);
	CU_ASSERT(strncmp(out, "HTTP/1.1 204 No Content", 23) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X-Tailscale-Response: response ts_a.b:c-d\r\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "Content-Length"));
	route("GET /generate_204 HTTP/1.1\r\nHost: x\r\nX-Tailscale-Challenge: a/b\r\n\r\n", &def);
	CU_ASSERT_PTR_NULL(strstr(out, "X-Tailscale-Response"));
	route("GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n", &def);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\r\n\r\nUser-agent: *\nDisallow: /\n"));
}

static void
test_home(void)
{
	struct http_route_cfg blank = def, url = def, off = def;

	route("GET /anything/else HTTP/1.1\r\nHost: x\r\n\r\n", &def);
	CU_ASSERT(strncmp(out, "HTTP/1.1 200 OK", 15) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Tailscale</a> DERP server."));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Strict-Transport-Security"));
	CU_ASSERT_PTR_NULL(strstr(out, "Status: <b>disabled</b>"));
	off.derp = false;
	route("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &off);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Status: <b>disabled</b>"));
	blank.home = "blank";
	route("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &blank);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Content-Length: 0\r\n"));
	url.home = "https://example.com/relay";
	route("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &url);
	CU_ASSERT(strncmp(out, "HTTP/1.1 302 Found", 18) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Location: https://example.com/relay\r\n"));
	/* HEAD: headers, no body */
	route("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", &def);
	CU_ASSERT_PTR_NULL(strstr(out, "<html>"));
}

static void
test_debug_and_connect(void)
{
	struct http_route_cfg local = def;

	route("GET /debug/ HTTP/1.1\r\nHost: x\r\n\r\n", &def);
	CU_ASSERT(strncmp(out, "HTTP/1.1 403", 12) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "debug access denied"));
	local.debug_allowed = true;
	route("GET /debug/vars HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", &local);
	CU_ASSERT(strncmp(out, "HTTP/1.1 403", 12) == 0);
	route("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", &def);
	CU_ASSERT(strncmp(out, "HTTP/1.1 403", 12) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "CONNECT not enabled"));
}

static void
test_close_semantics(void)
{
	CU_ASSERT_EQUAL(route("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &def),
			HTTP_RESPOND_CLOSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Connection: close\r\n"));
	CU_ASSERT_EQUAL(route("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", &def),
			HTTP_RESPOND_CLOSE);
	CU_ASSERT_EQUAL(route("GET /bootstrap-dns HTTP/1.1\r\nHost: x\r\n\r\n", &def),
			HTTP_RESPOND_CLOSE);
	CU_ASSERT(http_error_response(431, out, sizeof(out)) > 0);
	CU_ASSERT(strncmp(out, "HTTP/1.1 431 Request Header Fields Too Large", 44) == 0);
}

/* §10.2 and checklist item 39: the port-80 companion listener. */
static void
test_port80(void)
{
	struct http_route_cfg p80 = {.derp = true, .home = "", .tls = false, .port80 = true};

	CU_ASSERT_EQUAL(route("GET /anything?x=1 HTTP/1.1\r\nHost: derp.example.com\r\n\r\n", &p80),
			HTTP_RESPOND);
	CU_ASSERT(strncmp(out, "HTTP/1.1 302 Found\r\n", 20) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\r\nLocation: https://derp.example.com/anything?x=1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\r\n\r\n<a href=\"https://derp.example.com/anything?x=1\">Found</a>.\n\n"));
	/* the URL is escaped in the body, never in Location */
	route("GET /a<b>&\"c HTTP/1.1\r\nHost: h\r\n\r\n", &p80);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Location: https://h/a<b>&\"c\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "<a href=\"https://h/a&lt;b&gt;&amp;&#34;c\">"));
	/* HEAD: the same head, no body */
	route("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", &p80);
	CU_ASSERT(strncmp(out, "HTTP/1.1 302", 12) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Content-Length: 33\r\n"));
	CU_ASSERT(strlen(out) == out_len && strcmp(out + out_len - 4, "\r\n\r\n") == 0);
	/* DERP is not served here */
	route("GET /derp HTTP/1.1\r\nHost: h\r\nUpgrade: DERP\r\n\r\n", &p80);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Location: https://h/derp\r\n"));
	CU_ASSERT_EQUAL(route("POST /derp HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n", &p80),
			HTTP_RESPOND_CLOSE);
	CU_ASSERT(strncmp(out, "HTTP/1.1 400 Bad Request", 24) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\r\n\r\nUse HTTPS\n"));
	route("GET /generate_204 HTTP/1.1\r\nHost: h\r\nX-Tailscale-Challenge: abc\r\n\r\n", &p80);
	CU_ASSERT(strncmp(out, "HTTP/1.1 204", 12) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X-Tailscale-Response: response abc\r\n"));
	/* / from a debug-allowed address goes to /debug/; /debug to the main router */
	p80.debug_allowed = true;
	route("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &p80);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Location: https://h/debug/\r\n"));
	route("GET /debug/ HTTP/1.1\r\nHost: h\r\n\r\n", &p80);
	CU_ASSERT(strncmp(out, "HTTP/1.1 404", 12) == 0);
	p80.debug_allowed = false;
	route("GET /debug/ HTTP/1.1\r\nHost: h\r\n\r\n", &p80);
	CU_ASSERT(strncmp(out, "HTTP/1.1 403", 12) == 0);
}

static CU_TestInfo tests[] = {
	{"port-80 companion", test_port80},
	{"/derp upgrades", test_derp_upgrades},
	{"probe, generate_204, robots", test_probe_204_robots},
	{"home page modes", test_home},
	{"/debug and CONNECT", test_debug_and_connect},
	{"connection close", test_close_semantics},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/http_route", tests)
