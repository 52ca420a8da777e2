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

/* CRC-32 (IEEE, reflected 0xedb88320), one byte at a time. */
static const uint32_t crc_table[256] = {
	0x00000000, 0x77073096, 0xee0e612c, 0x990951ba,
	0x076dc419, 0x706af48f, 0xe963a535, 0x9e6495a3,
	0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
	0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91,
	0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de,
	0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
	0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec,
	0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5,
	0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
	0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b,
	0x35b5a8fa, 0x42b2986c, 0xdbbbc9d6, 0xacbcf940,
	0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
	0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116,
	0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
	0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
	0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d,
	0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a,
	0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
	0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818,
	0x7f6a0dbb, 0x086d3d2d, 0x91646c97, 0xe6635c01,
	0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
	0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457,
	0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea, 0xfcb9887c,
	0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
	0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2,
	0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb,
	0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
	0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
	0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086,
	0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
	0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4,
	0x59b33d17, 0x2eb40d81, 0xb7bd5c3b, 0xc0ba6cad,
	0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
	0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683,
	0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8,
	0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
	0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe,
	0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7,
	0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
	0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5,
	0xd6d6a3e8, 0xa1d1937e, 0x38d8c2c4, 0x4fdff252,
	0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
	0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60,
	0xdf60efc3, 0xa867df55, 0x316e8eef, 0x4669be79,
	0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
	0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f,
	0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04,
	0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
	0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a,
	0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713,
	0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
	0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21,
	0x86d3d2d4, 0xf1d4e242, 0x68ddb3f8, 0x1fda836e,
	0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
	0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c,
	0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
	0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
	0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db,
	0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0,
	0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
	0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6,
	0xbad03605, 0xcdd70693, 0x54de5729, 0x23d967bf,
	0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
	0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

uint32_t
stun_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

enum stun_verdict
stun_parse_request(const uint8_t *p, size_t len, bool tailscale_only,
		   uint8_t txid[STUN_TXID_LEN])
{
	bool software = false, fingerprint = false;
	size_t off = STUN_HEADER_LEN;

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
	return STUN_OK;
}

size_t
stun_build_response(uint8_t *out, const uint8_t txid[STUN_TXID_LEN],
		    int family, const uint8_t *addr, uint16_t port)
{
	uint8_t id[STUN_TXID_LEN];
	size_t alen = family == STUN_FAMILY_IPV4 ? 4 : 16;

	memcpy(id, txid, sizeof(id));	/* out may alias the request */
	wr16(out, STUN_BINDING_SUCCESS);
	wr16(out + 2, (uint16_t)(4 + 4 + alen));
	wr32(out + 4, STUN_COOKIE);
	memcpy(out + 8, id, STUN_TXID_LEN);
	wr16(out + 20, STUN_ATTR_XOR_MAPPED_ADDRESS);
	wr16(out + 22, (uint16_t)(4 + alen));
	out[24] = 0;
	out[25] = (uint8_t)family;
	wr16(out + 26, port ^ (STUN_COOKIE >> 16));
	/* the address XOR cookie (v4) or cookie || txid (v6) */
	for (size_t i = 0; i < alen; i++) {
		uint8_t k = i < 4 ? (uint8_t)(STUN_COOKIE >> (24 - 8 * i)) : id[i - 4];

		out[28 + i] = addr[i] ^ k;
	}
	return STUN_HEADER_LEN + 8 + alen;
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
