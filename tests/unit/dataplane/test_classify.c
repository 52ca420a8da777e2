/* SPDX-License-Identifier: BSD-3-Clause */
/* Frame classification and the in-place STUN answer, IPv4/IPv6, with and
 * without a VLAN tag; one reason per non-STUN frame. */
#include <string.h>

#include "dataplane/classify.h"
#include "tests/lib/harness.h"
#include "tests/unit/dataplane/frames.h"

static const uint8_t v4src[4] = {198, 18, 0, 2}, v4dst[4] = {198, 18, 0, 1};
static const uint8_t v6src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t v6dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void
test_reply_all_shapes(void)
{
	for (int family = 4; family <= 6; family += 2) {
		for (int vlan = 0; vlan <= 1; vlan++) {
			uint8_t f[256], req[40], id[12];
			struct dp_pkt pk;
			enum dp_class_reason why;
			size_t len, rlen;
			uint8_t addr[16];
			uint16_t port;
			int fam;

			stun_build_tailscale_request(req, txid);
			len = tf_build(f, family, vlan, family == 4 ? v4src : v6src,
				       family == 4 ? v4dst : v6dst, 54321, 3478, req, 40);
			CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_STUN);
			CU_ASSERT_EQUAL(why, DP_CR_STUN);
			CU_ASSERT_EQUAL(pk.payload_len, 40);
			CU_ASSERT_EQUAL(stun_parse_request(f + pk.l4_off + 8, pk.payload_len, true, id),
					STUN_OK);
			rlen = dp_stun_reply(f, &pk, id);
			CU_ASSERT_EQUAL(rlen, pk.l4_off + 8u + (family == 4 ? 32u : 44u));
			/* addressed back to the sender, from us */
			CU_ASSERT(memcmp(f, "\x02\x00\x00\x00\x00\x02", 6) == 0);
			CU_ASSERT(memcmp(f + 6, "\x02\x00\x00\x00\x00\x01", 6) == 0);
			if (family == 4) {
				CU_ASSERT(memcmp(f + pk.l2_len + 12, v4dst, 4) == 0);
				CU_ASSERT(memcmp(f + pk.l2_len + 16, v4src, 4) == 0);
				CU_ASSERT_EQUAL(f[pk.l2_len + 8], 64);
			} else {
				CU_ASSERT(memcmp(f + pk.l2_len + 8, v6dst, 16) == 0);
				CU_ASSERT(memcmp(f + pk.l2_len + 24, v6src, 16) == 0);
				CU_ASSERT_EQUAL(f[pk.l2_len + 7], 64);
			}
			CU_ASSERT_EQUAL(f[pk.l4_off] << 8 | f[pk.l4_off + 1], 3478);
			CU_ASSERT_EQUAL(f[pk.l4_off + 2] << 8 | f[pk.l4_off + 3], 54321);
			CU_ASSERT(tf_checksums_ok(f, family, vlan));
			CU_ASSERT_EQUAL(stun_parse_response(f + pk.l4_off + 8, rlen - pk.l4_off - 8,
							    txid, &fam, addr, &port), 0);
			CU_ASSERT_EQUAL(fam, family == 4 ? STUN_FAMILY_IPV4 : STUN_FAMILY_IPV6);
			CU_ASSERT_EQUAL(port, 54321);
			CU_ASSERT(memcmp(addr, family == 4 ? v4src : v6src, family == 4 ? 4 : 16) == 0);
		}
	}
}

static void
test_reasons(void)
{
	uint8_t f[256], req[40];
	struct dp_pkt pk;
	enum dp_class_reason why;
	size_t len;

	stun_build_tailscale_request(req, txid);
	len = tf_build(f, 4, 0, v4src, v4dst, 1000, 53, req, 40);
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_OTHER);
	CU_ASSERT_EQUAL(why, DP_CR_OTHER_PORT);

	len = tf_build(f, 4, 0, v4src, v4dst, 1000, 3478, req, 40);
	f[14 + 9] = 6;	/* TCP (checksum now stale, protocol checked first) */
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_OTHER);
	CU_ASSERT_EQUAL(why, DP_CR_NOT_UDP);

	len = tf_build(f, 4, 0, v4src, v4dst, 1000, 3478, req, 40);
	f[14 + 6] |= 0x20;	/* more fragments */
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_OTHER);
	CU_ASSERT_EQUAL(why, DP_CR_FRAGMENT);

	len = tf_build(f, 4, 0, v4src, v4dst, 1000, 3478, req, 40);
	f[14] = 0x46;
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_OTHER);
	CU_ASSERT_EQUAL(why, DP_CR_IP_OPTIONS);

	len = tf_build(f, 4, 0, v4src, v4dst, 1000, 3478, req, 40);
	f[14 + 10] ^= 1;	/* IPv4 header checksum */
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_OTHER);
	CU_ASSERT_EQUAL(why, DP_CR_BAD_CHECKSUM);

	len = tf_build(f, 4, 0, v4src, v4dst, 1000, 3478, req, 40);
	f[len - 1] ^= 1;	/* payload: UDP checksum no longer verifies */
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_BAD);
	CU_ASSERT_EQUAL(why, DP_CR_BAD_CHECKSUM);
	/* ...unless the NIC vouched for it */
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, true, &pk, &why), DP_CLASS_STUN);

	len = tf_build(f, 4, 0, v4src, v4dst, 1000, 3478, req, 40);
	CU_ASSERT_EQUAL(dp_classify(f, len - 1, 3478, false, &pk, &why), DP_CLASS_OTHER);
	CU_ASSERT_EQUAL(why, DP_CR_TRUNCATED);
	f[14 + 20 + 5] += 2;	/* UDP length disagrees with IP */
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, true, &pk, &why), DP_CLASS_BAD);
	CU_ASSERT_EQUAL(why, DP_CR_TRUNCATED);

	memset(f, 0, 64);
	f[12] = 0x08;
	f[13] = 0x06;	/* ARP */
	CU_ASSERT_EQUAL(dp_classify(f, 60, 3478, false, &pk, &why), DP_CLASS_OTHER);
	CU_ASSERT_EQUAL(why, DP_CR_NOT_IP);
	CU_ASSERT_EQUAL(dp_classify(f, 10, 3478, false, &pk, &why), DP_CLASS_OTHER);

	len = tf_build(f, 6, 0, v6src, v6dst, 1000, 3478, req, 40);
	f[14 + 6] = 0;	/* hop-by-hop extension header */
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_OTHER);
	CU_ASSERT_EQUAL(why, DP_CR_IP_OPTIONS);

	/* IPv4 without a UDP checksum (0) is valid; IPv6 without one is not */
	len = tf_build(f, 4, 0, v4src, v4dst, 1000, 3478, req, 40);
	f[14 + 20 + 6] = f[14 + 20 + 7] = 0;
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_STUN);
	len = tf_build(f, 6, 1, v6src, v6dst, 1000, 3478, req, 40);
	f[18 + 40 + 6] = f[18 + 40 + 7] = 0;
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &pk, &why), DP_CLASS_BAD);
	CU_ASSERT_STRING_EQUAL(dp_class_reason_name(DP_CR_FRAGMENT), "fragment");
}

static void
test_padded_frame(void)
{
	/* trailing bytes after the IP datagram (Ethernet padding) */
	uint8_t f[128], req[20] = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42};
	struct dp_pkt pk;
	enum dp_class_reason why;
	size_t len = tf_build(f, 4, 0, v4src, v4dst, 1000, 3478, req, 20);

	memset(f + len, 0, 16);
	CU_ASSERT_EQUAL(dp_classify(f, len + 16, 3478, false, &pk, &why), DP_CLASS_STUN);
	CU_ASSERT_EQUAL(pk.payload_len, 20);
}

/* The reply's checksums are computed from values, not summed over the
 * bytes written: check them against a plain RFC 1071 sum for many
 * addresses, ports, transaction ids and TTLs (a fixed-seed generator, so
 * a failure repeats), including all-ones words that exercise the carries. */
static void
test_reply_checksums_many(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned int bad = 0;

	for (int i = 0; i < 20000; i++) {
		int family = i & 1 ? 6 : 4, vlan = (i >> 1) & 1;
		uint8_t f[256], req[40], id[12], src[16], dst[16], addr[16];
		uint16_t sport, port;
		struct dp_pkt pk;
		enum dp_class_reason why;
		size_t len, rlen;
		int fam;

		for (int b = 0; b < 16; b++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			src[b] = (uint8_t)x;
			dst[b] = (uint8_t)(x >> 8);
			if (b < 12)
				id[b] = (uint8_t)(x >> 16);
		}
		if (i % 7 == 0)
			memset(src, 0xff, 16), memset(id, 0xff, 12);
		sport = (uint16_t)(x >> 24) | 1;
		stun_build_tailscale_request(req, id);
		len = tf_build(f, family, vlan, src, dst, sport, 3478, req, 40);
		if (family == 4) {	/* any TTL and id; header checksum redone */
			uint8_t *ip = f + (vlan ? 18 : 14);
			uint32_t s = 0;

			ip[8] = (uint8_t)(x >> 32);
			ip[4] = (uint8_t)(x >> 40);
			ip[10] = ip[11] = 0;
			for (int w = 0; w < 20; w += 2)
				s += (uint32_t)(ip[w] << 8 | ip[w + 1]);
			while (s >> 16)
				s = (s & 0xffff) + (s >> 16);
			ip[10] = (uint8_t)(~s >> 8);
			ip[11] = (uint8_t)~s;
		}
		if (dp_classify(f, len, 3478, false, &pk, &why) != DP_CLASS_STUN ||
		    stun_parse_request(f + pk.l4_off + 8, pk.payload_len, true, id) != STUN_OK) {
			bad++;
			continue;
		}
		rlen = dp_stun_reply(f, &pk, id);
		if (!tf_checksums_ok(f, family, vlan) ||
		    stun_parse_response(f + pk.l4_off + 8, rlen - pk.l4_off - 8, id, &fam, addr,
					&port) != 0 ||
		    port != sport || memcmp(addr, src, family == 4 ? 4 : 16) != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* The fused fast path takes Tailscale's IPv4 request exactly as the general
 * path does, and leaves every other shape to it. */
static void
test_fast_path(void)
{
	uint8_t f[256], req[40], id[12];
	struct dp_pkt pk, gen;
	enum dp_class_reason why;
	size_t len;

	stun_build_tailscale_request(req, txid);
	len = tf_build(f, 4, 0, v4src, v4dst, 54321, 3478, req, 40);
	CU_ASSERT_FATAL(dp_classify_ts4(f, len, 3478, &pk, id));
	CU_ASSERT_EQUAL(dp_classify(f, len, 3478, false, &gen, &why), DP_CLASS_STUN);
	CU_ASSERT(pk.l2_len == gen.l2_len && pk.l4_off == gen.l4_off &&
		  pk.family == gen.family && pk.payload_len == gen.payload_len);
	CU_ASSERT(memcmp(id, txid, 12) == 0);
	CU_ASSERT(dp_classify_ts4(f, len + 10, 3478, &pk, id));	/* trailing bytes */
	/* anything else: not decided here */
	CU_ASSERT_FALSE(dp_classify_ts4(f, len - 1, 3478, &pk, id));
	CU_ASSERT_FALSE(dp_classify_ts4(f, len, 3479, &pk, id));
	f[14 + 8] ^= 1;		/* TTL: the IPv4 header checksum no longer holds */
	CU_ASSERT_FALSE(dp_classify_ts4(f, len, 3478, &pk, id));
	f[14 + 8] ^= 1;
	f[len - 1] ^= 1;	/* FINGERPRINT */
	CU_ASSERT_FALSE(dp_classify_ts4(f, len, 3478, &pk, id));
	f[len - 1] ^= 1;
	f[14 + 20 + 8 + 24] = 'T';	/* SOFTWARE is not "tailnode" */
	CU_ASSERT_FALSE(dp_classify_ts4(f, len, 3478, &pk, id));
	len = tf_build(f, 4, 1, v4src, v4dst, 54321, 3478, req, 40);	/* VLAN */
	CU_ASSERT_FALSE(dp_classify_ts4(f, len, 3478, &pk, id));
	len = tf_build(f, 6, 0, v6src, v6dst, 54321, 3478, req, 40);
	CU_ASSERT_FALSE(dp_classify_ts4(f, len, 3478, &pk, id));
	len = tf_build(f, 4, 0, v4src, v4dst, 54321, 3478, req, 20);	/* no attributes */
	CU_ASSERT_FALSE(dp_classify_ts4(f, len, 3478, &pk, id));
	len = tf_build(f, 4, 0, v4src, v4dst, 54321, 3478, req, 40);
	f[14 + 6] = 0x20;	/* more fragments */
	CU_ASSERT_FALSE(dp_classify_ts4(f, len, 3478, &pk, id));
}

static CU_TestInfo tests[] = {
	{"fast path: Tailscale's IPv4 request, nothing else", test_fast_path},
	{"reply: IPv4/IPv6, with and without VLAN", test_reply_all_shapes},
	{"reply checksums, 20,000 random frames", test_reply_checksums_many},
	{"one reason per non-STUN frame", test_reasons},
	{"Ethernet padding", test_padded_frame},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("dataplane/classify", tests)
