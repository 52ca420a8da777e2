/* SPDX-License-Identifier: BSD-3-Clause */
/* The incremental DERP frame reader: every split of a stream gives the
 * same frames; the actions chosen by on_header are honoured exactly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tls/frame.h"

struct rec {
	char log[8192];
	size_t n;
	int fail_type;		/* on_header returns -EPROTO for this type */
};

static void
note(struct rec *r, const char *s)
{
	size_t l = strlen(s);

	memcpy(r->log + r->n, s, l);
	r->n += l;
	r->log[r->n] = '\0';
}

static int
on_header(void *ctx, uint8_t type, uint32_t len, uint32_t *prefix)
{
	struct rec *r = ctx;

	(void)len;
	if (type == r->fail_type)
		return -EPROTO;
	switch (type) {
	case DERP_FRAME_SEND_PACKET:
		*prefix = 4;
		return DERP_RX_STREAM;
	case 0x7f:
		return DERP_RX_SKIP;
	default:
		return DERP_RX_WHOLE;
	}
}

static int
on_frame(void *ctx, uint8_t type, const uint8_t *body, uint32_t len)
{
	char buf[300];

	snprintf(buf, sizeof(buf), "W%02x:%.*s;", type, (int)len, (const char *)body);
	note(ctx, buf);
	return 0;
}

static int
on_start(void *ctx, uint8_t type, const uint8_t *prefix, uint32_t plen, uint32_t rest)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "S%02x:%.*s+%u[", type, (int)plen, (const char *)prefix, rest);
	note(ctx, buf);
	return 0;
}

static int
on_data(void *ctx, const uint8_t *d, uint32_t n)
{
	char buf[300];

	snprintf(buf, sizeof(buf), "%.*s", (int)n, (const char *)d);
	note(ctx, buf);
	return 0;
}

static int
on_end(void *ctx)
{
	note(ctx, "];");
	return 0;
}

static const struct derp_rx_ops ops = {on_header, on_frame, on_start, on_data, on_end};

static size_t
frame(uint8_t *out, uint8_t type, const char *payload)
{
	size_t n = strlen(payload);

	derp_put_header(out, type, (uint32_t)n);
	memcpy(out + 5, payload, n);
	return 5 + n;
}

static const char want[] = "W12:12345678;S04:KEYS+5[hello];W06:;S04:KEYS+0[];W07:\x01;";

static size_t
stream(uint8_t *s)
{
	size_t n = 0;

	n += frame(s + n, DERP_FRAME_PING, "12345678");
	n += frame(s + n, DERP_FRAME_SEND_PACKET, "KEYShello");
	n += frame(s + n, 0x7f, "skipped payload");
	n += frame(s + n, DERP_FRAME_KEEP_ALIVE, "");
	n += frame(s + n, DERP_FRAME_SEND_PACKET, "KEYS");
	n += frame(s + n, DERP_FRAME_NOTE_PREFERRED, "\x01");
	return n;
}

static void
test_whole_stream(void)
{
	uint8_t s[256];
	size_t n = stream(s), used = 0;
	struct derp_rx rx = {0};
	struct rec r = {.fail_type = -1};

	CU_ASSERT_EQUAL(derp_rx_feed(&rx, s, n, &ops, &r, &used, false), 0);
	CU_ASSERT_EQUAL(used, n);
	CU_ASSERT_STRING_EQUAL(r.log, want);
	derp_rx_free(&rx);
}

/* Every way of cutting the stream in two, and byte by byte. */
static void
test_every_split(void)
{
	uint8_t s[256];
	size_t n = stream(s);

	for (size_t cut = 0; cut <= n; cut++) {
		struct derp_rx rx = {0};
		struct rec r = {.fail_type = -1};

		CU_ASSERT_EQUAL(derp_rx_feed(&rx, s, cut, &ops, &r, NULL, false), 0);
		CU_ASSERT_EQUAL(derp_rx_feed(&rx, s + cut, n - cut, &ops, &r, NULL, false), 0);
		CU_ASSERT_STRING_EQUAL(r.log, want);
		derp_rx_free(&rx);
	}
	{
		struct derp_rx rx = {0};
		struct rec r = {.fail_type = -1};

		for (size_t i = 0; i < n; i++)
			CU_ASSERT_EQUAL(derp_rx_feed(&rx, s + i, 1, &ops, &r, NULL, false), 0);
		CU_ASSERT_STRING_EQUAL(r.log, want);
		derp_rx_free(&rx);
	}
}

static void
test_stop_after_frame(void)
{
	uint8_t s[256];
	size_t n = stream(s), used = 0;
	struct derp_rx rx = {0};
	struct rec r = {.fail_type = -1};

	CU_ASSERT_EQUAL(derp_rx_feed(&rx, s, n, &ops, &r, &used, true), 1);
	CU_ASSERT_EQUAL(used, 13);
	CU_ASSERT_STRING_EQUAL(r.log, "W12:12345678;");
	CU_ASSERT_EQUAL(derp_rx_feed(&rx, s + used, n - used, &ops, &r, &used, false), 0);
	CU_ASSERT_STRING_EQUAL(r.log, want);
	derp_rx_free(&rx);
}

static void
test_header_error_stops(void)
{
	uint8_t s[256];
	size_t n = stream(s), used = 0;
	struct derp_rx rx = {0};
	struct rec r = {.fail_type = DERP_FRAME_KEEP_ALIVE};

	CU_ASSERT_EQUAL(derp_rx_feed(&rx, s, n, &ops, &r, &used, false), -EPROTO);
	CU_ASSERT_STRING_EQUAL(r.log, "W12:12345678;S04:KEYS+5[hello];");
	derp_rx_free(&rx);
}

static void
test_huge_length_is_not_buffered_upfront(void)
{
	/* a 4 GiB claim for a WHOLE frame only allocates when bytes come, and
	 * the caller refuses such lengths in on_header anyway */
	uint8_t hdr[5];
	struct derp_rx rx = {0};
	struct rec r = {.fail_type = DERP_FRAME_CLIENT_INFO};

	derp_put_header(hdr, DERP_FRAME_CLIENT_INFO, 0xffffffffu);
	CU_ASSERT_EQUAL(derp_rx_feed(&rx, hdr, 5, &ops, &r, NULL, false), -EPROTO);
	CU_ASSERT_PTR_NULL(rx.body);
	derp_rx_free(&rx);
}

static void
test_disco(void)
{
	uint8_t p[100] = "TS\xf0\x9f\x92\xac";

	CU_ASSERT(derp_looks_like_disco(p, 62));
	CU_ASSERT(!derp_looks_like_disco(p, 61));
	p[0] = 'X';
	CU_ASSERT(!derp_looks_like_disco(p, 100));
}

static CU_TestInfo tests[] = {
	{"whole stream", test_whole_stream},
	{"every split", test_every_split},
	{"stop after one frame", test_stop_after_frame},
	{"header error stops", test_header_error_stops},
	{"4 GiB claim", test_huge_length_is_not_buffered_upfront},
	{"disco detection", test_disco},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/frame", tests)
