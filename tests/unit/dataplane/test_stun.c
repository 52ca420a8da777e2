/* SPDX-License-Identifier: BSD-3-Clause */
/* STUN codec against RFC 5769 and the vectors of docs/protocol.md §9. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/stun.h"
#include "tests/lib/harness.h"

/* RFC 5769 §2.1 sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME, MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t rfc5769_req[108] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2 sample IPv4 response: 192.0.2.1:32853. */
static const uint8_t rfc5769_resp4[80] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* docs/protocol.md §9.1: Tailscale's 40-byte request, txid 01..0c */
static const uint8_t ts_req[40] = {
	0x00, 0x01, 0x00, 0x14, 0x21, 0x12, 0xa4, 0x42, 0x01, 0x02, 0x03, 0x04,
	0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x80, 0x22, 0x00, 0x08,
	0x74, 0x61, 0x69, 0x6c, 0x6e, 0x6f, 0x64, 0x65, 0x80, 0x28, 0x00, 0x04,
	0xb3, 0x2c, 0x37, 0x0f,
};

static const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void
test_fingerprint_crc(void)
{
	CU_ASSERT_EQUAL(stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
	CU_ASSERT_EQUAL(stun_crc32(rfc5769_req, 100) ^ STUN_FINGERPRINT_XOR, 0xe57a3bcfu);
}

static void
test_rfc5769_request(void)
{
	uint8_t id[12];

	CU_ASSERT_EQUAL(stun_parse_request(rfc5769_req, sizeof(rfc5769_req), false, id), STUN_OK);
	CU_ASSERT(memcmp(id, rfc5769_req + 8, 12) == 0);
	/* not Tailscale's: no SOFTWARE "tailnode" */
	CU_ASSERT_EQUAL(stun_parse_request(rfc5769_req, sizeof(rfc5769_req), true, id),
			STUN_DROP_NOT_TAILSCALE);
}

static void
test_rfc5769_response_parse(void)
{
	uint8_t addr[16];
	uint16_t port;
	int family;

	CU_ASSERT_EQUAL(stun_parse_response(rfc5769_resp4, sizeof(rfc5769_resp4),
					    rfc5769_resp4 + 8, &family, addr, &port), 0);
	CU_ASSERT_EQUAL(family, STUN_FAMILY_IPV4);
	CU_ASSERT_EQUAL(port, 32853);
	CU_ASSERT(memcmp(addr, "\xc0\x00\x02\x01", 4) == 0);
	CU_ASSERT_EQUAL(stun_parse_response(rfc5769_resp4, sizeof(rfc5769_resp4), txid,
					    &family, addr, &port), -EINVAL);
}

static void
test_tailscale_request(void)
{
	uint8_t out[40], id[12];

	CU_ASSERT_EQUAL(stun_build_tailscale_request(out, txid), 40);
	CU_ASSERT(memcmp(out, ts_req, 40) == 0);
	CU_ASSERT_EQUAL(stun_parse_request(ts_req, 40, true, id), STUN_OK);
	CU_ASSERT(memcmp(id, txid, 12) == 0);
	CU_ASSERT_EQUAL(stun_parse_request(ts_req, 40, false, id), STUN_OK);
}

/* docs/protocol.md §9.2 response vectors */
static void
test_response_vectors(void)
{
	static const uint8_t v4[32] = {
		0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6,
		7, 8, 9, 10, 11, 12, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xf5, 0x23,
		0xe1, 0x12, 0xa6, 0x43};
	static const uint8_t v6[44] = {
		0x01, 0x01, 0x00, 0x18, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6,
		7, 8, 9, 10, 11, 12, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xf5, 0x23,
		0x01, 0x13, 0xa9, 0xfa, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		0x08, 0x09, 0x0a, 0x0b, 0x0d};
	static const uint8_t a4[4] = {192, 0, 2, 1};
	static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	uint8_t out[64], addr[16];
	uint16_t port;
	int family;

	CU_ASSERT_EQUAL(stun_build_response(out, txid, STUN_FAMILY_IPV4, a4, 54321), 32);
	CU_ASSERT(memcmp(out, v4, 32) == 0);
	CU_ASSERT_EQUAL(stun_build_response(out, txid, STUN_FAMILY_IPV6, a6, 54321), 44);
	CU_ASSERT(memcmp(out, v6, 44) == 0);
	CU_ASSERT_EQUAL(stun_parse_response(v6, 44, txid, &family, addr, &port), 0);
	CU_ASSERT_EQUAL(family, STUN_FAMILY_IPV6);
	CU_ASSERT_EQUAL(port, 54321);
	CU_ASSERT(memcmp(addr, a6, 16) == 0);
	/* in place over the request, as the poll loop does */
	memcpy(out, ts_req, 40);
	CU_ASSERT_EQUAL(stun_build_response(out, out + 8, STUN_FAMILY_IPV4, a4, 54321), 32);
	CU_ASSERT(memcmp(out, v4, 32) == 0);
}

/* §13 item 35: each malformed request is dropped with its own reason. */
static void
test_negatives(void)
{
	uint8_t p[64], id[12];

	memcpy(p, ts_req, 40);
	p[39] ^= 1;
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, true, id), STUN_DROP_BAD_FINGERPRINT);
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, false, id), STUN_DROP_BAD_FINGERPRINT);

	memcpy(p, ts_req, 40);
	memcpy(p + 24, "tailnodX", 8);	/* SOFTWARE other than tailnode */
	{
		uint32_t fp = stun_crc32(p, 32) ^ STUN_FINGERPRINT_XOR;

		p[36] = (uint8_t)(fp >> 24); p[37] = (uint8_t)(fp >> 16);
		p[38] = (uint8_t)(fp >> 8); p[39] = (uint8_t)fp;
	}
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, true, id), STUN_DROP_NOT_TAILSCALE);
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, false, id), STUN_OK);

	/* no FINGERPRINT */
	memcpy(p, ts_req, 32);
	p[3] = 12;
	CU_ASSERT_EQUAL(stun_parse_request(p, 32, true, id), STUN_DROP_NOT_TAILSCALE);
	CU_ASSERT_EQUAL(stun_parse_request(p, 32, false, id), STUN_OK);

	/* bytes after FINGERPRINT (even zeros) */
	memcpy(p, ts_req, 40);
	memset(p + 40, 0, 4);
	p[3] = 24;
	CU_ASSERT_EQUAL(stun_parse_request(p, 44, true, id), STUN_DROP_BAD_FINGERPRINT);

	/* Binding Indication, other methods */
	memcpy(p, ts_req, 40);
	p[1] = 0x11;
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, false, id), STUN_DROP_NOT_BINDING);
	p[1] = 0x01;
	p[0] = 0x01;
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, false, id), STUN_DROP_NOT_BINDING);

	/* short, cookie, top bits */
	CU_ASSERT_EQUAL(stun_parse_request(ts_req, 19, false, id), STUN_DROP_SHORT);
	memcpy(p, ts_req, 40);
	p[4] = 0x22;
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, false, id), STUN_DROP_NOT_STUN);
	memcpy(p, ts_req, 40);
	p[0] = 0x40;
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, false, id), STUN_DROP_NOT_STUN);

	/* truncated attribute, length field lies */
	memcpy(p, ts_req, 40);
	p[23] = 0x40;
	CU_ASSERT_EQUAL(stun_parse_request(p, 40, false, id), STUN_DROP_BAD_ATTR);
	memcpy(p, ts_req, 40);
	CU_ASSERT_EQUAL(stun_parse_request(p, 36, false, id), STUN_DROP_BAD_LENGTH);
	p[3] = 16;
	CU_ASSERT_EQUAL(stun_parse_request(p, 36, false, id), STUN_DROP_BAD_ATTR);
	/* a bare header is a valid (generic) request */
	memcpy(p, ts_req, 20);
	p[3] = 0;
	CU_ASSERT_EQUAL(stun_parse_request(p, 20, false, id), STUN_OK);
	CU_ASSERT_EQUAL(stun_parse_request(p, 20, true, id), STUN_DROP_NOT_TAILSCALE);
	CU_ASSERT_STRING_EQUAL(stun_verdict_name(STUN_DROP_BAD_FINGERPRINT), "bad_fingerprint");
}

/* The table-driven CRC of Tailscale's layout equals the generic one. */
static void
test_tailscale_crc_tables(void)
{
	uint8_t req[40], id[12];

	srand(7);
	for (int i = 0; i < 2000; i++) {
		for (int b = 0; b < 12; b++)
			id[b] = (uint8_t)rand();
		stun_build_tailscale_request(req, id);
		CU_ASSERT_EQUAL(stun_crc32_tailscale(req), stun_crc32(req, 32));
	}
}

/* The sum stun_response_sum() computes from values equals the sum of the
 * bytes stun_build_response() writes (both families, many inputs). */
static void
test_response_sum(void)
{
	uint8_t out[64], id[STUN_TXID_LEN], addr[16];

	srand(42);
	for (int n = 0; n < 2000; n++) {
		int family = n & 1 ? STUN_FAMILY_IPV6 : STUN_FAMILY_IPV4;
		uint16_t port = (uint16_t)rand();
		uint32_t want = 0;
		size_t len;

		for (size_t i = 0; i < sizeof(id); i++)
			id[i] = (uint8_t)rand();
		for (size_t i = 0; i < sizeof(addr); i++)
			addr[i] = (uint8_t)rand();
		len = stun_build_response(out, id, family, addr, port);
		CU_ASSERT_EQUAL_FATAL(len % 2, 0);
		for (size_t i = 0; i < len; i += 2)
			want += (uint32_t)out[i] << 8 | out[i + 1];
		while (want >> 16)
			want = (want & 0xffff) + (want >> 16);
		{
			uint32_t got = stun_response_sum(id, family, addr, port);

			while (got >> 16)
				got = (got & 0xffff) + (got >> 16);
			CU_ASSERT_EQUAL_FATAL(got, want);
		}
	}
}

static CU_TestInfo tests[] = {
	{"response sum from values", test_response_sum},
	{"Tailscale CRC tables", test_tailscale_crc_tables},
	{"CRC-32 and FINGERPRINT", test_fingerprint_crc},
	{"RFC 5769 request", test_rfc5769_request},
	{"RFC 5769 IPv4 response", test_rfc5769_response_parse},
	{"Tailscale request", test_tailscale_request},
	{"response vectors v4/v6", test_response_vectors},
	{"negatives (item 35)", test_negatives},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("dataplane/stun", tests)
