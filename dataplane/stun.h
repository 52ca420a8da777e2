/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STUN (RFC 8489, RFC 5389) Binding: request validation and the response,
 * as pure functions over a byte buffer (no mbufs here: the poll loop calls
 * them on the UDP payload in place). Also the client side used by
 * derpprobe and the tests. Fuzzed by tests/fuzz/fuzz_stun.c.
 *
 * Wire layout (all big-endian):
 *   0  u16 type     0x0001 Binding Request, 0x0101 Binding Success
 *   2  u16 length   of the attributes that follow the 20-byte header
 *   4  u32 cookie   0x2112a442
 *   8  12 bytes     transaction id
 *  20  attributes   u16 type | u16 length | value, padded to 4 bytes
 */
#ifndef DERPER_DATAPLANE_STUN_H
#define DERPER_DATAPLANE_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum stun_consts {
	STUN_HEADER_LEN = 20,
	STUN_TXID_LEN = 12,
	STUN_COOKIE = 0x2112a442,
	STUN_BINDING_REQUEST = 0x0001,
	STUN_BINDING_SUCCESS = 0x0101,
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_FINGERPRINT_XOR = 0x5354554e,
	STUN_FAMILY_IPV4 = 0x01,
	STUN_FAMILY_IPV6 = 0x02,
	STUN_RESPONSE_V4_LEN = 32,
	STUN_RESPONSE_V6_LEN = 44,
	STUN_TAILSCALE_REQUEST_LEN = 40,
};

/* Why a datagram to the STUN port was not answered: one counter each. */
enum stun_verdict {
	STUN_OK = 0,
	STUN_DROP_SHORT,		/* under 20 bytes */
	STUN_DROP_NOT_STUN,		/* top bits set or wrong magic cookie */
	STUN_DROP_NOT_BINDING,		/* another class or method */
	STUN_DROP_BAD_LENGTH,		/* header length != attribute bytes */
	STUN_DROP_BAD_ATTR,		/* truncated or overrunning attribute */
	STUN_DROP_BAD_FINGERPRINT,	/* wrong CRC, or not the last attribute */
	STUN_DROP_NOT_TAILSCALE,	/* tailscale_only: no SOFTWARE "tailnode" or FINGERPRINT */
	STUN_VERDICT_NB
};

/* Name of a verdict for metrics and logs ("bad_fingerprint"). */
const char *stun_verdict_name(enum stun_verdict v);

/*
 * Validate a Binding Request of `len` bytes. With tailscale_only, only
 * what derper answers (SOFTWARE "tailnode" and a correct FINGERPRINT as
 * the last attribute). Otherwise every well-formed request, with a
 * FINGERPRINT verified when present. On STUN_OK, txid gets the
 * transaction id.
 */
enum stun_verdict stun_parse_request(const uint8_t *p, size_t len,
				     bool tailscale_only,
				     uint8_t txid[STUN_TXID_LEN]);

/* As stun_parse_request(); *fingerprinted tells whether the request
 * carried a FINGERPRINT (then verified: CRC-32 over the whole message). */
enum stun_verdict stun_parse_request_fp(const uint8_t *p, size_t len,
					bool tailscale_only,
					uint8_t txid[STUN_TXID_LEN],
					bool *fingerprinted);

/*
 * Write a Binding Success with one XOR-MAPPED-ADDRESS for addr:port (addr
 * is 4 bytes for STUN_FAMILY_IPV4, 16 for IPV6; port in host order).
 * Returns the length: 32 (IPv4) or 44 (IPv6). `out` may alias the request.
 */
size_t stun_build_response(uint8_t *out, const uint8_t txid[STUN_TXID_LEN],
			   int family, const uint8_t *addr, uint16_t port);

/*
 * The one's-complement sum (16-bit words, host order, not folded) of the
 * response stun_build_response() writes for the same arguments, computed
 * from the values: the UDP checksum without reading the response back.
 */
uint32_t stun_response_sum(const uint8_t txid[STUN_TXID_LEN], int family,
			   const uint8_t *addr, uint16_t port);

/* CRC-32 (IEEE 802.3), as used by FINGERPRINT. */
uint32_t stun_crc32(const uint8_t *p, size_t n);

/* CRC-32 of the first 32 bytes of a request laid out as Tailscale's
 * (header with length 20, SOFTWARE "tailnode"): only the id is read. */
uint32_t stun_crc32_tailscale(const uint8_t *p);

/* The 40-byte request Tailscale clients send (SOFTWARE "tailnode",
 * FINGERPRINT). Returns 40. */
size_t stun_build_tailscale_request(uint8_t out[STUN_TAILSCALE_REQUEST_LEN],
				    const uint8_t txid[STUN_TXID_LEN]);

/*
 * Client side: parse a Binding Success for `txid`; XOR-MAPPED-ADDRESS
 * preferred, MAPPED-ADDRESS accepted. addr gets 4 or 16 bytes. Returns 0
 * or -EINVAL.
 */
int stun_parse_response(const uint8_t *p, size_t len,
			const uint8_t txid[STUN_TXID_LEN], int *family,
			uint8_t addr[16], uint16_t *port);

#endif /* DERPER_DATAPLANE_STUN_H */
