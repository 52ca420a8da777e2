/* SPDX-License-Identifier: BSD-3-Clause */
/* Test frames: Ethernet [+ VLAN] + IPv4/IPv6 + UDP + payload, with valid
 * checksums computed independently of the code under test. */
#ifndef DERPER_TESTS_FRAMES_H
#define DERPER_TESTS_FRAMES_H

#include <stdint.h>
#include <string.h>

static inline uint32_t
tf_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static inline uint16_t
tf_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Build a frame; returns its length. family 4 or 6. */
static inline size_t
tf_build(uint8_t *f, int family, int vlan, const uint8_t *src, const uint8_t *dst,
	 uint16_t sport, uint16_t dport, const uint8_t *payload, size_t plen)
{
	size_t l2 = vlan ? 18 : 14, l3 = family == 4 ? 20 : 40;
	uint8_t *ip = f + l2, *udp = f + l2 + l3;
	uint16_t ulen = (uint16_t)(8 + plen);
	uint32_t s;

	memcpy(f, "\x02\x00\x00\x00\x00\x01", 6);		/* dst MAC */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x02", 6);		/* src MAC */
	if (vlan) {
		f[12] = 0x81; f[13] = 0x00; f[14] = 0x00; f[15] = 0x07;
	}
	f[l2 - 2] = family == 4 ? 0x08 : 0x86;
	f[l2 - 1] = family == 4 ? 0x00 : 0xdd;
	memset(ip, 0, l3);
	if (family == 4) {
		ip[0] = 0x45;
		ip[2] = (uint8_t)((20 + ulen) >> 8);
		ip[3] = (uint8_t)(20 + ulen);
		ip[6] = 0x40;	/* DF */
		ip[8] = 61;
		ip[9] = 17;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		s = tf_fold(tf_sum(0, ip, 20));
		ip[10] = (uint8_t)(s >> 8);
		ip[11] = (uint8_t)s;
	} else {
		ip[0] = 0x60;
		ip[4] = (uint8_t)(ulen >> 8);
		ip[5] = (uint8_t)ulen;
		ip[6] = 17;
		ip[7] = 61;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	}
	udp[0] = (uint8_t)(sport >> 8); udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8); udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(ulen >> 8); udp[5] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, payload, plen);
	s = family == 4 ? tf_sum(0, ip + 12, 8) : tf_sum(0, ip + 8, 32);
	s += 17 + ulen;
	s = tf_fold(tf_sum(s, udp, ulen));
	if (s == 0)
		s = 0xffff;
	udp[6] = (uint8_t)(s >> 8);
	udp[7] = (uint8_t)s;
	return l2 + l3 + ulen;
}

/* Do the IPv4 header and UDP checksums of a frame verify? */
static inline int
tf_checksums_ok(const uint8_t *f, int family, int vlan)
{
	size_t l2 = vlan ? 18 : 14, l3 = family == 4 ? 20 : 40;
	const uint8_t *ip = f + l2, *udp = f + l2 + l3;
	uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);
	uint32_t s;

	if (family == 4 && tf_fold(tf_sum(0, ip, 20)) != 0)
		return 0;
	s = family == 4 ? tf_sum(0, ip + 12, 8) : tf_sum(0, ip + 8, 32);
	s += 17 + ulen;
	return tf_fold(tf_sum(s, udp, ulen)) == 0;
}

#endif
