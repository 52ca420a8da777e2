/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A flat list of early exits, every length checked before the bytes it
 * covers are read; the order is the order of the headers.
 */
#include <arpa/inet.h>
#include <string.h>

#include "dataplane/classify.h"

enum {
	ETH_HLEN = 14,
	VLAN_HLEN = 4,
	ETH_P_IPV4 = 0x0800,
	ETH_P_IPV6 = 0x86dd,
	ETH_P_8021Q = 0x8100,
	IPV4_HLEN = 20,
	IPV6_HLEN = 40,
	UDP_HLEN = 8,
	IPPROTO_UDP_ = 17,
	REPLY_TTL = 64,
};

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * RFC 1071 sums in native byte order: a ones' complement sum is the same
 * in either byte order up to a swap (RFC 1071 §2(B)), so words are added
 * as they lie in memory and the folded complement is stored back as is.
 * Constants in host order go in through htons(). Not DPDK's rte_raw_cksum:
 * it adds 16-bit words, and the capacity benchmark's general path lost 4 %
 * with it (docs/performance.md, restructuring check).
 */
static inline uint64_t
nsum(const uint8_t *p, size_t n)
{
	uint64_t acc = 0, carry = 0, w;
	uint32_t v;
	size_t i = 0;

	/* eight bytes at a time; the carries out of bit 63 wrap around */
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc += w;
		carry += acc < w;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32) + carry;
	if (i + 4 <= n) {
		memcpy(&v, p + i, 4);
		acc += v;
		i += 4;
	}
	if (i + 2 <= n) {
		uint16_t h;

		memcpy(&h, p + i, 2);
		acc += h;
		i += 2;
	}
	if (i < n) {
		uint16_t h = 0;

		memcpy(&h, p + i, 1);	/* the high byte of a network word */
		acc += h;
	}
	return acc;
}

static inline uint16_t
nfold(uint64_t acc)
{
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)((acc & 0xffff) + (acc >> 16));
}

static inline uint16_t
nbe16(uint16_t v)
{
	return htons(v);
}

uint32_t
dp_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	return sum + ntohs(nfold(nsum(p, n)));
}

uint16_t
dp_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Sum of the pseudo-header's addresses, native. */
static inline uint64_t
pseudo_addrs(const uint8_t *frame, const struct dp_pkt *pk)
{
	const uint8_t *l3 = frame + pk->l2_len;

	return pk->family == 4 ? nsum(l3 + 12, 8) : nsum(l3 + 8, 32);
}

/* Full UDP sum (pseudo-header included), native and folded: a correct
 * datagram gives 0xffff. */
static uint16_t
udp_sum(const uint8_t *frame, const struct dp_pkt *pk, uint16_t udp_len)
{
	return nfold(pseudo_addrs(frame, pk) + nbe16(IPPROTO_UDP_) +
		     nbe16(udp_len) + nsum(frame + pk->l4_off, udp_len));
}

bool
dp_udp_checksum_ok(const uint8_t *f, const struct dp_pkt *pk)
{
	const uint8_t *udp = f + pk->l4_off;

	/* IPv4 may omit the UDP checksum (0); IPv6 may not */
	if (pk->family == 4 && udp[6] == 0 && udp[7] == 0)
		return true;
	return udp_sum(f, pk, (uint16_t)(pk->payload_len + UDP_HLEN)) == 0xffff;
}

enum dp_class
dp_classify(const uint8_t *f, size_t len, uint16_t stun_port, bool skip_l4_cksum,
	    struct dp_pkt *pk, enum dp_class_reason *why)
{
	uint16_t type, udp_len, ip_payload;
	const uint8_t *l3, *udp;

	*why = DP_CR_NOT_IP;
	if (len < ETH_HLEN)
		return DP_CLASS_OTHER;
	pk->l2_len = ETH_HLEN;
	type = rd16(f + 12);
	if (type == ETH_P_8021Q) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return DP_CLASS_OTHER;
		type = rd16(f + 16);
		pk->l2_len += VLAN_HLEN;
	}
	l3 = f + pk->l2_len;
	if (type == ETH_P_IPV4) {
		uint16_t total;

		if (len < (size_t)pk->l2_len + IPV4_HLEN || (l3[0] >> 4) != 4) {
			*why = DP_CR_TRUNCATED;
			return DP_CLASS_OTHER;
		}
		if ((l3[0] & 0x0f) != 5) {
			*why = DP_CR_IP_OPTIONS;
			return DP_CLASS_OTHER;
		}
		if (rd16(l3 + 6) & 0x3fff) {	/* MF or an offset */
			*why = DP_CR_FRAGMENT;
			return DP_CLASS_OTHER;
		}
		if (l3[9] != IPPROTO_UDP_) {
			*why = DP_CR_NOT_UDP;
			return DP_CLASS_OTHER;
		}
		total = rd16(l3 + 2);
		if (total < IPV4_HLEN + UDP_HLEN || total > len - pk->l2_len) {
			*why = DP_CR_TRUNCATED;
			return DP_CLASS_OTHER;
		}
		if (nfold(nsum(l3, IPV4_HLEN)) != 0xffff) {
			*why = DP_CR_BAD_CHECKSUM;
			return DP_CLASS_OTHER;
		}
		pk->family = 4;
		pk->l4_off = (uint16_t)(pk->l2_len + IPV4_HLEN);
		ip_payload = (uint16_t)(total - IPV4_HLEN);
	} else if (type == ETH_P_IPV6) {
		if (len < (size_t)pk->l2_len + IPV6_HLEN || (l3[0] >> 4) != 6) {
			*why = DP_CR_TRUNCATED;
			return DP_CLASS_OTHER;
		}
		if (l3[6] != IPPROTO_UDP_) {
			/* extension headers, or not UDP: the kernel's */
			*why = l3[6] == 0 || l3[6] == 43 || l3[6] == 44 || l3[6] == 60 ?
				       DP_CR_IP_OPTIONS : DP_CR_NOT_UDP;
			return DP_CLASS_OTHER;
		}
		ip_payload = rd16(l3 + 4);
		if (ip_payload < UDP_HLEN ||
		    ip_payload > len - pk->l2_len - IPV6_HLEN) {
			*why = DP_CR_TRUNCATED;
			return DP_CLASS_OTHER;
		}
		pk->family = 6;
		pk->l4_off = (uint16_t)(pk->l2_len + IPV6_HLEN);
	} else {
		return DP_CLASS_OTHER;
	}
	udp = f + pk->l4_off;
	if (rd16(udp + 2) != stun_port) {
		*why = DP_CR_OTHER_PORT;
		return DP_CLASS_OTHER;
	}
	udp_len = rd16(udp + 4);
	if (udp_len != ip_payload) {
		*why = DP_CR_TRUNCATED;
		return DP_CLASS_BAD;
	}
	pk->payload_len = (uint16_t)(udp_len - UDP_HLEN);
	if (!skip_l4_cksum && !dp_udp_checksum_ok(f, pk)) {
		*why = DP_CR_BAD_CHECKSUM;
		return DP_CLASS_BAD;
	}
	*why = DP_CR_STUN;
	return DP_CLASS_STUN;
}

/* Eight bytes of the frame at `off` match `want` under `mask`? */
static inline bool
match8(const uint8_t *f, size_t off, const uint8_t want[8], const uint8_t mask[8])
{
	uint64_t v, w, m;

	memcpy(&v, f + off, 8);
	memcpy(&w, want, 8);
	memcpy(&m, mask, 8);
	return ((v ^ w) & m) == 0;
}

bool
dp_classify_ts4(const uint8_t *f, size_t len, uint16_t stun_port,
		struct dp_pkt *pk, uint8_t txid[STUN_TXID_LEN])
{
	enum { L3 = ETH_HLEN, L4 = ETH_HLEN + IPV4_HLEN, MSG = L4 + UDP_HLEN };
	/* bytes 12..19: type 0x0800, version 4 / IHL 5, (TOS), total 68, (id) */
	static const uint8_t w12[8] = {0x08, 0x00, 0x45, 0, 0x00, IPV4_HLEN + UDP_HLEN + 40, 0, 0};
	static const uint8_t m12[8] = {0xff, 0xff, 0xff, 0, 0xff, 0xff, 0, 0};
	/* bytes 20..27: no MF, offset 0; (TTL); UDP; (checksum, source) */
	static const uint8_t w20[8] = {0, 0, 0, IPPROTO_UDP_, 0, 0, 0, 0};
	static const uint8_t m20[8] = {0x3f, 0xff, 0, 0xff, 0, 0, 0, 0};
	/* bytes 34..41: (source port), destination port, length 48, (checksum) */
	uint8_t w34[8] = {0, 0, (uint8_t)(stun_port >> 8), (uint8_t)stun_port, 0, 48, 0, 0};
	static const uint8_t m34[8] = {0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
	/* bytes 42..49: Binding Request, length 20, magic cookie */
	static const uint8_t w42[8] = {0x00, 0x01, 0x00, 20, 0x21, 0x12, 0xa4, 0x42};
	static const uint8_t all[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	/* bytes 62..77: SOFTWARE "tailnode", FINGERPRINT's type and length */
	static const uint8_t w62[16] = {0x80, 0x22, 0x00, 0x08, 't', 'a', 'i', 'l',
					'n',  'o',  'd',  'e',  0x80, 0x28, 0x00, 0x04};
	uint32_t fp;

	if (len < MSG + STUN_TAILSCALE_REQUEST_LEN || !match8(f, 12, w12, m12) ||
	    !match8(f, 20, w20, m20) || !match8(f, 34, w34, m34) ||
	    !match8(f, 42, w42, all) || !match8(f, 62, w62, all) ||
	    !match8(f, 70, w62 + 8, all))
		return false;
	if (nfold(nsum(f + L3, IPV4_HLEN)) != 0xffff)
		return false;
	memcpy(&fp, f + MSG + 36, 4);
	if (ntohl(fp) != (stun_crc32_tailscale(f + MSG) ^ STUN_FINGERPRINT_XOR))
		return false;
	pk->l2_len = ETH_HLEN;
	pk->l4_off = L4;
	pk->family = 4;
	pk->payload_len = STUN_TAILSCALE_REQUEST_LEN;
	memcpy(txid, f + MSG + 8, STUN_TXID_LEN);
	return true;
}

static void
swap(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[16];

	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

/*
 * IPv4, the common case, answered with the fewest stores: the request's
 * cookie and transaction id already lie where the response carries them,
 * so only the message type and length and the XOR-MAPPED-ADDRESS are
 * written. Both checksums come from values read before anything is
 * written (no load waits on a store just made): the IPv4 header's updated
 * for the two words that change (RFC 1624; swapping the addresses leaves
 * its sum alone), the UDP one summed in native byte order from the
 * pseudo-header, the ports, the transaction id and the response's fields.
 */
static size_t
reply_v4(uint8_t *f, const struct dp_pkt *pk, const uint8_t txid[STUN_TXID_LEN])
{
	enum { RESP = STUN_HEADER_LEN + 12, ULEN = UDP_HLEN + RESP };
	uint8_t *l3 = f + pk->l2_len, *udp = f + pk->l4_off, *msg = udp + UDP_HLEN;
	uint8_t mac[6], ttlp[2] = {REPLY_TTL, l3[9]}, attr[12];
	uint32_t saddr, daddr, ports, id[3], xaddr;
	uint16_t sport, dport, hc, len_old, ttl_old, ttl_new, xport, hck, ck;
	uint16_t len_new = nbe16(IPV4_HLEN + ULEN), ulen = nbe16(ULEN);
	/* the response's fixed words, native: type, length, cookie, the
	 * attribute's type and length, its reserved byte and family */
	const uint64_t fixed = (uint64_t)nbe16(STUN_BINDING_SUCCESS) + nbe16(12) +
			       nbe16(STUN_COOKIE >> 16) + nbe16(STUN_COOKIE & 0xffff) +
			       nbe16(STUN_ATTR_XOR_MAPPED_ADDRESS) + nbe16(8) +
			       nbe16(STUN_FAMILY_IPV4) + nbe16(IPPROTO_UDP_);
	const uint32_t cookie = htonl(STUN_COOKIE);
	uint64_t acc;

	memcpy(&saddr, l3 + 12, 4);
	memcpy(&daddr, l3 + 16, 4);
	memcpy(&ports, udp, 4);
	memcpy(&sport, udp, 2);
	memcpy(&dport, udp + 2, 2);
	memcpy(&hc, l3 + 10, 2);
	memcpy(&len_old, l3 + 2, 2);
	memcpy(&ttl_old, l3 + 8, 2);
	memcpy(&ttl_new, ttlp, 2);
	memcpy(id, txid, STUN_TXID_LEN);
	xport = (uint16_t)(sport ^ nbe16(STUN_COOKIE >> 16));
	xaddr = saddr ^ cookie;

	acc = (uint16_t)~hc + (uint64_t)(uint16_t)~len_old + len_new +
	      (uint16_t)~ttl_old + ttl_new;
	hck = (uint16_t)~nfold(acc);
	acc = fixed + (uint64_t)saddr + daddr + ports + 2u * ulen + id[0] + id[1] + id[2] +
	      xport + xaddr;

	/* Ethernet */
	memcpy(mac, f, 6);
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mac, 6);
	/* IPv4 */
	memcpy(l3 + 2, &len_new, 2);
	l3[8] = REPLY_TTL;
	memcpy(l3 + 10, &hck, 2);
	memcpy(l3 + 12, &daddr, 4);
	memcpy(l3 + 16, &saddr, 4);
	/* UDP */
	memcpy(udp, &dport, 2);
	memcpy(udp + 2, &sport, 2);
	memcpy(udp + 4, &ulen, 2);
	ck = (uint16_t)~nfold(acc);
	if (ck == 0)
		ck = 0xffff;	/* a computed 0 is sent as all ones (RFC 768) */
	memcpy(udp + 6, &ck, 2);
	/* STUN: type and length; cookie and transaction id stay */
	msg[0] = STUN_BINDING_SUCCESS >> 8;
	msg[1] = STUN_BINDING_SUCCESS & 0xff;
	msg[2] = 0;
	msg[3] = 12;
	attr[0] = STUN_ATTR_XOR_MAPPED_ADDRESS >> 8;
	attr[1] = STUN_ATTR_XOR_MAPPED_ADDRESS & 0xff;
	attr[2] = 0;
	attr[3] = 8;
	attr[4] = 0;
	attr[5] = STUN_FAMILY_IPV4;
	memcpy(attr + 6, &xport, 2);
	memcpy(attr + 8, &xaddr, 4);
	memcpy(msg + STUN_HEADER_LEN, attr, sizeof(attr));
	return (size_t)pk->l4_off + ULEN;
}

static size_t
reply_v6(uint8_t *f, const struct dp_pkt *pk,
	 const uint8_t txid[STUN_TXID_LEN])
{
	uint8_t *l3 = f + pk->l2_len, *udp = f + pk->l4_off;
	uint8_t src[16];
	uint16_t sport = rd16(udp), resp, udp_len, ck;
	/* the UDP checksum from values, not from the bytes just written
	 * (store forwarding): the addresses' and ports' sums do not change
	 * when they are swapped, the response's is computed (RFC 1071) */
	uint32_t sum = dp_csum_add(dp_csum_add(0, udp, 4), l3 + 8, 32);

	swap(f, f + 6, 6);
	memcpy(src, l3 + 8, 16);
	swap(l3 + 8, l3 + 24, 16);
	resp = (uint16_t)stun_build_response(udp + UDP_HLEN, txid, STUN_FAMILY_IPV6, src, sport);
	udp_len = (uint16_t)(UDP_HLEN + resp);
	wr16(l3 + 4, udp_len);
	l3[7] = REPLY_TTL;
	swap(udp, udp + 2, 2);
	wr16(udp + 4, udp_len);
	sum += IPPROTO_UDP_ + 2u * udp_len +
	       stun_response_sum(txid, STUN_FAMILY_IPV6, src, sport);
	ck = (uint16_t)~dp_csum_fold(sum);
	/* a computed 0 is sent as all ones (RFC 768) */
	if (ck == 0)
		ck = 0xffff;
	wr16(udp + 6, ck);
	return (size_t)pk->l4_off + udp_len;
}

size_t
dp_stun_reply(uint8_t *f, const struct dp_pkt *pk,
	      const uint8_t txid[STUN_TXID_LEN])
{
	if (pk->family == 4)
		return reply_v4(f, pk, txid);
	return reply_v6(f, pk, txid);
}

const char *
dp_class_reason_name(enum dp_class_reason r)
{
	static const char *const names[DP_CR_NB] = {
		[DP_CR_STUN] = "stun",
		[DP_CR_NOT_IP] = "not_ip",
		[DP_CR_IP_OPTIONS] = "ip_options",
		[DP_CR_FRAGMENT] = "fragment",
		[DP_CR_NOT_UDP] = "not_udp",
		[DP_CR_OTHER_PORT] = "other_port",
		[DP_CR_TRUNCATED] = "truncated",
		[DP_CR_BAD_CHECKSUM] = "bad_checksum",
	};

	return (unsigned int)r < DP_CR_NB ? names[r] : "unknown";
}
