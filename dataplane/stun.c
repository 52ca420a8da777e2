/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A flat list of early-return checks, every length validated before the
 * bytes it covers are read. No allocation, no I/O.
 */
#include <errno.h>
#include <string.h>

#include "dataplane/stun.h"

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

const char *
stun_verdict_name(enum stun_verdict v)
{
	static const char *const names[STUN_VERDICT_NB] = {
		[STUN_OK] = "answered",
		[STUN_DROP_SHORT] = "short",
		[STUN_DROP_NOT_STUN] = "not_stun",
		[STUN_DROP_NOT_BINDING] = "not_binding",
		[STUN_DROP_BAD_LENGTH] = "bad_length",
		[STUN_DROP_BAD_ATTR] = "bad_attribute",
		[STUN_DROP_BAD_FINGERPRINT] = "bad_fingerprint",
		[STUN_DROP_NOT_TAILSCALE] = "not_tailscale",
	};

	return (unsigned int)v < STUN_VERDICT_NB ? names[v] : "unknown";
}

/* CRC-32 (IEEE, reflected 0xedb88320), slicing-by-8 (Intel, 2006):
 * table t maps a byte to its contribution t bytes before the end. */
static uint32_t crc_table[8][256];

/*
 * CRC-32 of Tailscale's request over its first 32 bytes, where only the
 * transaction id varies: CRC is affine, so crc(request) is the CRC of the
 * request with a zero id XORed with one table entry per id byte (twelve
 * independent lookups instead of a 32-byte chain).
 * tests/unit/dataplane/test_stun.c checks it against stun_crc32() on
 * random ids.
 */
static uint32_t ts_zero_id_crc;
static uint32_t ts_id_crc[STUN_TXID_LEN][256];

uint32_t
stun_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	/* eight independent lookups per eight bytes */
	for (; n >= 8; n -= 8, p += 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				   (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);

		c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][p[4]] ^ crc_table[2][p[5]] ^
		    crc_table[1][p[6]] ^ crc_table[0][p[7]];
	}
	while (n--)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

uint32_t
stun_crc32_tailscale(const uint8_t *p)
{
	const uint8_t *id = p + 8;

	return ts_zero_id_crc ^ ts_id_crc[0][id[0]] ^ ts_id_crc[1][id[1]] ^
	       ts_id_crc[2][id[2]] ^ ts_id_crc[3][id[3]] ^ ts_id_crc[4][id[4]] ^
	       ts_id_crc[5][id[5]] ^ ts_id_crc[6][id[6]] ^ ts_id_crc[7][id[7]] ^
	       ts_id_crc[8][id[8]] ^ ts_id_crc[9][id[9]] ^ ts_id_crc[10][id[10]] ^
	       ts_id_crc[11][id[11]];
}

/* The 40 bytes every Tailscale client sends, from byte 20 on: SOFTWARE
 * "tailnode", then FINGERPRINT (whose value varies). */
static const uint8_t ts_attrs[16] = {0x80, 0x22, 0x00, 0x08, 't', 'a', 'i', 'l',
				      'n', 'o', 'd', 'e', 0x80, 0x28, 0x00, 0x04};

enum stun_verdict
stun_parse_request(const uint8_t *p, size_t len, bool tailscale_only,
		   uint8_t txid[STUN_TXID_LEN])
{
	bool fp;

	return stun_parse_request_fp(p, len, tailscale_only, txid, &fp);
}

enum stun_verdict
stun_parse_request_fp(const uint8_t *p, size_t len, bool tailscale_only,
		      uint8_t txid[STUN_TXID_LEN], bool *fingerprinted)
{
	bool software = false, fingerprint = false;
	size_t off = STUN_HEADER_LEN;

	*fingerprinted = false;
	/* fast path: Tailscale's request, as it always is on the wire */
	if (len == STUN_TAILSCALE_REQUEST_LEN && rd32(p) == (STUN_BINDING_REQUEST << 16 | 20) &&
	    rd32(p + 4) == STUN_COOKIE && memcmp(p + 20, ts_attrs, 16) == 0) {
		if (rd32(p + 36) != (stun_crc32_tailscale(p) ^ STUN_FINGERPRINT_XOR))
			return STUN_DROP_BAD_FINGERPRINT;
		memcpy(txid, p + 8, STUN_TXID_LEN);
		*fingerprinted = true;
		return STUN_OK;
	}

	if (len < STUN_HEADER_LEN)
		return STUN_DROP_SHORT;
	if ((p[0] & 0xc0) || rd32(p + 4) != STUN_COOKIE)
		return STUN_DROP_NOT_STUN;
	if (rd16(p) != STUN_BINDING_REQUEST)
		return STUN_DROP_NOT_BINDING;
	if (rd16(p + 2) != len - STUN_HEADER_LEN || (len & 3))
		return STUN_DROP_BAD_LENGTH;
	while (off < len) {
		uint16_t type, alen;

		if (len - off < 4)
			return STUN_DROP_BAD_ATTR;
		type = rd16(p + off);
		alen = rd16(p + off + 2);
		if (alen > len - off - 4)
			return STUN_DROP_BAD_ATTR;
		if (fingerprint)	/* something after FINGERPRINT */
			return STUN_DROP_BAD_FINGERPRINT;
		if (type == STUN_ATTR_SOFTWARE && alen == 8 &&
		    memcmp(p + off + 4, "tailnode", 8) == 0)
			software = true;
		if (type == STUN_ATTR_FINGERPRINT) {
			if (alen != 4 ||
			    rd32(p + off + 4) !=
				    (stun_crc32(p, off) ^ STUN_FINGERPRINT_XOR))
				return STUN_DROP_BAD_FINGERPRINT;
			fingerprint = true;
		}
		off += 4 + (((size_t)alen + 3) & ~(size_t)3);
		if (off > len)
			return STUN_DROP_BAD_ATTR;
	}
	if (tailscale_only && !(software && fingerprint))
		return STUN_DROP_NOT_TAILSCALE;
	memcpy(txid, p + 8, STUN_TXID_LEN);
	*fingerprinted = fingerprint;
	return STUN_OK;
}

size_t
stun_build_response(uint8_t *out, const uint8_t txid[STUN_TXID_LEN],
		    int family, const uint8_t *addr, uint16_t port)
{
	static const uint8_t cookie[4] = {0x21, 0x12, 0xa4, 0x42};
	uint8_t id[STUN_TXID_LEN], a[16];
	size_t alen = family == STUN_FAMILY_IPV4 ? 4 : 16;
	uint64_t x, k;
	uint32_t y, c;

	memcpy(id, txid, sizeof(id));	/* out may alias the request */
	memcpy(a, addr, alen);		/* ...and addr too */
	wr16(out, STUN_BINDING_SUCCESS);
	wr16(out + 2, (uint16_t)(4 + 4 + alen));
	memcpy(out + 4, cookie, 4);
	memcpy(out + 8, id, STUN_TXID_LEN);
	wr16(out + 20, STUN_ATTR_XOR_MAPPED_ADDRESS);
	wr16(out + 22, (uint16_t)(4 + alen));
	out[24] = 0;
	out[25] = (uint8_t)family;
	wr16(out + 26, port ^ (STUN_COOKIE >> 16));
	/* the address XOR cookie (v4) or cookie || txid (v6), word-wise */
	memcpy(&y, a, 4);
	memcpy(&c, cookie, 4);
	y ^= c;
	memcpy(out + 28, &y, 4);
	if (alen == 16) {
		memcpy(&x, a + 4, 8);
		memcpy(&k, id, 8);
		x ^= k;
		memcpy(out + 32, &x, 8);
		memcpy(&y, a + 12, 4);
		memcpy(&c, id + 8, 4);
		y ^= c;
		memcpy(out + 40, &y, 4);
	}
	return STUN_HEADER_LEN + 8 + alen;
}

uint32_t
stun_response_sum(const uint8_t txid[STUN_TXID_LEN], int family,
		  const uint8_t *addr, uint16_t port)
{
	static const uint8_t cookie[4] = {0x21, 0x12, 0xa4, 0x42};
	size_t alen = family == STUN_FAMILY_IPV4 ? 4 : 16;
	uint32_t sum = STUN_BINDING_SUCCESS + (uint32_t)(4 + 4 + alen) +
		       (STUN_COOKIE >> 16) + (STUN_COOKIE & 0xffff) +
		       STUN_ATTR_XOR_MAPPED_ADDRESS + (uint32_t)(4 + alen) +
		       (uint32_t)family + (uint16_t)(port ^ (STUN_COOKIE >> 16));

	for (size_t i = 0; i < STUN_TXID_LEN; i += 2)
		sum += rd16(txid + i);
	for (size_t i = 0; i < alen; i += 2) {
		/* the address XOR cookie || txid, as the response carries it */
		const uint8_t *k = i < 4 ? cookie + i : txid + i - 4;

		sum += (uint16_t)(rd16(addr + i) ^ rd16(k));
	}
	return sum;
}

size_t
stun_build_tailscale_request(uint8_t out[STUN_TAILSCALE_REQUEST_LEN],
			     const uint8_t txid[STUN_TXID_LEN])
{
	wr16(out, STUN_BINDING_REQUEST);
	wr16(out + 2, 20);
	wr32(out + 4, STUN_COOKIE);
	memcpy(out + 8, txid, STUN_TXID_LEN);
	wr16(out + 20, STUN_ATTR_SOFTWARE);
	wr16(out + 22, 8);
	memcpy(out + 24, "tailnode", 8);
	wr16(out + 32, STUN_ATTR_FINGERPRINT);
	wr16(out + 34, 4);
	wr32(out + 36, stun_crc32(out, 32) ^ STUN_FINGERPRINT_XOR);
	return STUN_TAILSCALE_REQUEST_LEN;
}

/* The tables, computed before main() (and so before any lcore, test or
 * fuzz target runs): 56 KiB of arithmetic instead of 1,300 lines of
 * constants. */
__attribute__((constructor)) static void
crc_tables_init(void)
{
	static const uint8_t zero_id[STUN_TXID_LEN];
	uint8_t req[STUN_TAILSCALE_REQUEST_LEN], delta[32] = {0};
	uint32_t zero32;

	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
		crc_table[0][b] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int b = 0; b < 256; b++)
			crc_table[t][b] = (crc_table[t - 1][b] >> 8) ^
					  crc_table[0][crc_table[t - 1][b] & 0xff];
	/* crc(a ^ d) = crc(a) ^ crc(d) ^ crc(0) for messages of one length */
	stun_build_tailscale_request(req, zero_id);
	ts_zero_id_crc = stun_crc32(req, 32);
	zero32 = stun_crc32(delta, 32);
	for (int i = 0; i < STUN_TXID_LEN; i++)
		for (int b = 0; b < 256; b++) {
			delta[8 + i] = (uint8_t)b;
			ts_id_crc[i][b] = stun_crc32(delta, 32) ^ zero32;
			delta[8 + i] = 0;
		}
}

int
stun_parse_response(const uint8_t *p, size_t len,
		    const uint8_t txid[STUN_TXID_LEN], int *family,
		    uint8_t addr[16], uint16_t *port)
{
	size_t off = STUN_HEADER_LEN, end;
	int found = 0;

	if (len < STUN_HEADER_LEN || rd16(p) != STUN_BINDING_SUCCESS ||
	    rd32(p + 4) != STUN_COOKIE ||
	    memcmp(p + 8, txid, STUN_TXID_LEN) != 0)
		return -EINVAL;
	end = STUN_HEADER_LEN + rd16(p + 2);
	if (end > len)
		return -EINVAL;
	while (off + 4 <= end) {
		uint16_t type = rd16(p + off), alen = rd16(p + off + 2);
		const uint8_t *v = p + off + 4;

		if (alen > end - off - 4)
			return -EINVAL;
		if ((type == STUN_ATTR_XOR_MAPPED_ADDRESS ||
		     (type == STUN_ATTR_MAPPED_ADDRESS && !found)) && alen >= 8) {
			bool x = type == STUN_ATTR_XOR_MAPPED_ADDRESS;
			size_t n = v[1] == STUN_FAMILY_IPV4 ? 4 : 16;

			if ((v[1] != STUN_FAMILY_IPV4 && v[1] != STUN_FAMILY_IPV6) ||
			    alen < 4 + n)
				return -EINVAL;
			*family = v[1];
			*port = rd16(v + 2) ^ (x ? STUN_COOKIE >> 16 : 0);
			for (size_t i = 0; i < n; i++) {
				uint8_t k = i < 4 ? (uint8_t)(STUN_COOKIE >> (24 - 8 * i))
						  : txid[i - 4];

				addr[i] = v[4 + i] ^ (x ? k : 0);
			}
			found = x ? 2 : 1;
		}
		off += 4 + (((size_t)alen + 3) & ~(size_t)3);
	}
	return found ? 0 : -EINVAL;
}
