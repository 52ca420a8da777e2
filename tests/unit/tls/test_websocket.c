/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tls/websocket.h"

struct sink {
	uint8_t data[200000];
	size_t n;
	int last_op;
	size_t ctl_len;
};

static int
on_data(void *ctx, uint8_t *d, size_t n)
{
	struct sink *s = ctx;

	memcpy(s->data + s->n, d, n);
	s->n += n;
	return 0;
}

static int
on_control(void *ctx, uint8_t op, const uint8_t *p, size_t n)
{
	struct sink *s = ctx;

	(void)p;
	s->last_op = op;
	s->ctl_len = n;
	return 0;
}

static const struct ws_rx_ops ops = {on_data, on_control};

/* A masked client frame. */
static size_t
client_frame(uint8_t *out, uint8_t b0, const uint8_t *payload, size_t n)
{
	static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t h = 2;

	out[0] = b0;
	if (n < 126) {
		out[1] = (uint8_t)(0x80 | n);
	} else if (n <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
		h = 4;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		h = 10;
	}
	memcpy(out + h, mask, 4);
	for (size_t i = 0; i < n; i++)
		out[h + 4 + i] = payload[i] ^ mask[i & 3];
	return h + 4 + n;
}

static void
test_handshake_rfc6455(void)
{
	const char *req = "GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			  "Sec-WebSocket-Protocol: chat, derp\r\nSec-WebSocket-Version: 13\r\n\r\n";
	struct http_req r;
	char out[512];
	bool derp = false;

	CU_ASSERT_EQUAL_FATAL(http_parse_request(req, strlen(req), &r), 0);
	CU_ASSERT(ws_handshake(&r, out, sizeof(out), &derp) > 0);
	CU_ASSERT(derp);
	/* the example of RFC 6455 §1.3 */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Sec-WebSocket-Protocol: derp\r\n"));
	CU_ASSERT(strncmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
}

static void
test_handshake_refusals(void)
{
	const char *noproto = "GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			      "Sec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5a2V5\r\nSec-WebSocket-Protocol: derpx\r\n"
			      "Sec-WebSocket-Version: 13\r\n\r\n";
	const char *nokey = "GET /derp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Version: 13\r\n\r\n";
	struct http_req r;
	char out[512];
	bool derp = true;

	CU_ASSERT_EQUAL_FATAL(http_parse_request(noproto, strlen(noproto), &r), 0);
	CU_ASSERT(ws_handshake(&r, out, sizeof(out), &derp) > 0);
	CU_ASSERT(!derp);	/* "derpx" is not "derp": 101 then close 1008 */
	CU_ASSERT_PTR_NULL(strstr(out, "Sec-WebSocket-Protocol"));
	CU_ASSERT_EQUAL_FATAL(http_parse_request(nokey, strlen(nokey), &r), 0);
	CU_ASSERT_EQUAL(ws_handshake(&r, out, sizeof(out), &derp), -400);
}

static void
test_decode_fragmented_and_control(void)
{
	static uint8_t buf[300000];
	static struct sink s;
	struct ws_rx rx = {0};
	uint8_t *payload = malloc(70000);
	size_t n = 0;

	for (size_t i = 0; i < 70000; i++)
		payload[i] = (uint8_t)i;
	memset(&s, 0, sizeof(s));
	n += client_frame(buf + n, WS_OP_BINARY, payload, 10);		/* not FIN */
	n += client_frame(buf + n, 0x80 | WS_OP_PING, (const uint8_t *)"hi", 2);
	n += client_frame(buf + n, 0x80 | WS_OP_CONT, payload + 10, 300);
	n += client_frame(buf + n, 0x80 | WS_OP_BINARY, payload, 0);
	n += client_frame(buf + n, 0x80 | WS_OP_BINARY, payload + 310, 40000);
	/* byte by byte */
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(ws_rx_feed(&rx, buf + i, 1, &ops, &s), 0);
	CU_ASSERT_EQUAL(s.n, 40310);
	CU_ASSERT(memcmp(s.data, payload, 40310) == 0);
	CU_ASSERT_EQUAL(s.last_op, WS_OP_PING);
	free(payload);
}

static void
test_violations(void)
{
	uint8_t buf[100], p[200] = {0};
	struct ws_rx rx;
	struct sink s;
	size_t n;

	memset(&rx, 0, sizeof(rx));
	n = client_frame(buf, 0x80 | WS_OP_TEXT, (const uint8_t *)"hello", 5);
	CU_ASSERT_EQUAL(ws_rx_feed(&rx, buf, n, &ops, &s), WS_CLOSE_UNSUPPORTED);

	memset(&rx, 0, sizeof(rx));
	n = client_frame(buf, 0x80 | WS_OP_BINARY, p, 5);
	buf[1] &= 0x7f;		/* unmasked client frame */
	CU_ASSERT_EQUAL(ws_rx_feed(&rx, buf, n, &ops, &s), WS_CLOSE_PROTOCOL);

	memset(&rx, 0, sizeof(rx));
	n = client_frame(buf, 0x80 | 0x40 | WS_OP_BINARY, p, 5);	/* RSV1 */
	CU_ASSERT_EQUAL(ws_rx_feed(&rx, buf, n, &ops, &s), WS_CLOSE_PROTOCOL);

	memset(&rx, 0, sizeof(rx));
	n = client_frame(buf, WS_OP_PING, p, 5);	/* fragmented control */
	CU_ASSERT_EQUAL(ws_rx_feed(&rx, buf, n, &ops, &s), WS_CLOSE_PROTOCOL);

	memset(&rx, 0, sizeof(rx));
	n = client_frame(buf, 0x80 | WS_OP_CONT, p, 5);	/* continuation of nothing */
	CU_ASSERT_EQUAL(ws_rx_feed(&rx, buf, n, &ops, &s), WS_CLOSE_PROTOCOL);

	memset(&rx, 0, sizeof(rx));
	buf[0] = 0x80 | WS_OP_BINARY;
	buf[1] = 0x80 | 127;
	memset(buf + 2, 0xff, 8);	/* 2^64-1 bytes */
	memset(buf + 10, 0, 4);
	CU_ASSERT_EQUAL(ws_rx_feed(&rx, buf, 14, &ops, &s), WS_CLOSE_TOO_BIG);
}

static void
test_server_frames(void)
{
	uint8_t h[10];

	CU_ASSERT_EQUAL(ws_frame_header(h, WS_OP_BINARY, 5), 2);
	CU_ASSERT_EQUAL(h[0], 0x82);
	CU_ASSERT_EQUAL(h[1], 5);
	CU_ASSERT_EQUAL(ws_frame_header(h, WS_OP_BINARY, 300), 4);
	CU_ASSERT_EQUAL(h[1], 126);
	CU_ASSERT_EQUAL(ws_frame_header(h, WS_OP_BINARY, 70000), 10);
	CU_ASSERT_EQUAL(h[1], 127);
	CU_ASSERT_EQUAL(ws_close_frame(h, WS_CLOSE_UNSUPPORTED), 4);
	CU_ASSERT(h[0] == 0x88 && h[1] == 2 && h[2] == 0x03 && h[3] == 0xeb);
}

static CU_TestInfo tests[] = {
	{"RFC 6455 handshake", test_handshake_rfc6455},
	{"handshake refusals", test_handshake_refusals},
	{"fragments, control frames, byte by byte", test_decode_fragmented_and_control},
	{"protocol violations", test_violations},
	{"server frame headers", test_server_frames},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/websocket", tests)
