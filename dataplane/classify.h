/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * L2/L3/L4 demultiplexing of one received frame, and the STUN answer
 * written in place over it. Pure functions over a byte buffer (the loop
 * passes the mbuf's data); fuzzed with the STUN parser in
 * tests/fuzz/fuzz_packet.c.
 *
 * A frame is for us when it is Ethernet II (with at most one 802.1Q tag),
 * IPv4 without options or fragmentation or IPv6 whose next header is UDP,
 * UDP to the STUN port with consistent lengths and a valid checksum (like
 * Tailscale's XDP responder). Everything else is "other": the kernel's
 * business (exception path in exclusive mode), never answered here.
 */
#ifndef DERPER_DATAPLANE_CLASSIFY_H
#define DERPER_DATAPLANE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/stun.h"

enum dp_class {
	DP_CLASS_STUN,		/* UDP to the STUN port, well formed */
	DP_CLASS_OTHER,		/* not ours: kernel traffic */
	DP_CLASS_BAD,		/* to the STUN port but broken: dropped */
};

/* Why a frame was not STUN, or was broken: one counter each. */
enum dp_class_reason {
	DP_CR_STUN,		/* classified as STUN */
	DP_CR_NOT_IP,		/* ARP, LLDP, ... */
	DP_CR_IP_OPTIONS,	/* IPv4 with options, IPv6 extension headers */
	DP_CR_FRAGMENT,
	DP_CR_NOT_UDP,		/* TCP, ICMP, ... */
	DP_CR_OTHER_PORT,	/* UDP to another port */
	DP_CR_TRUNCATED,	/* lengths disagree with the frame */
	DP_CR_BAD_CHECKSUM,	/* IPv4 header or UDP checksum */
	DP_CR_NB
};

struct dp_pkt {
	uint16_t l2_len;	/* 14, or 18 with a VLAN tag */
	uint16_t l4_off;	/* start of the UDP header */
	uint8_t family;		/* 4 or 6 */
	uint16_t payload_len;	/* UDP payload bytes */
};

/* Classify `frame` of `len` bytes for UDP port `stun_port` (host order).
 * `skip_l4_cksum` leaves the UDP checksum to the caller (the NIC verified
 * it, or dp_udp_checksum_ok() runs later). */
enum dp_class dp_classify(const uint8_t *frame, size_t len, uint16_t stun_port,
			  bool skip_l4_cksum, struct dp_pkt *pk,
			  enum dp_class_reason *why);

/*
 * The one shape nearly every request has: untagged Ethernet, IPv4 without
 * options or fragments, UDP to `stun_port`, Tailscale's 40-byte Binding
 * Request (SOFTWARE "tailnode", FINGERPRINT last). Checked with a few
 * masked word compares instead of the header walk; the IPv4 header
 * checksum and the FINGERPRINT are verified. True: `pk` and `txid` are
 * set exactly as dp_classify() and stun_parse_request_fp() would set
 * them (and the UDP checksum, as there, is left to the FINGERPRINT).
 * False: nothing is decided; the frame takes the general path, which
 * classifies it and counts the reason.
 */
bool dp_classify_ts4(const uint8_t *frame, size_t len, uint16_t stun_port,
		     struct dp_pkt *pk, uint8_t txid[STUN_TXID_LEN]);

/* Does the UDP checksum of a classified frame verify (0 = none is fine
 * for IPv4)? */
bool dp_udp_checksum_ok(const uint8_t *frame, const struct dp_pkt *pk);

/*
 * Turn a classified Binding Request into the Binding Success, in place:
 * MACs, addresses and ports swapped, TTL/hop limit 64, lengths and
 * checksums rewritten, one XOR-MAPPED-ADDRESS with the sender's address
 * and port (family 0x01 for IPv4, 0x02 for IPv6). Returns the new frame
 * length. The frame must have room for the answer (it always does: the
 * answer is at most 44 bytes of payload, requests are at least 20 and
 * the mbuf data room is 2 KiB).
 */
size_t dp_stun_reply(uint8_t *frame, const struct dp_pkt *pk,
		     const uint8_t txid[STUN_TXID_LEN]);

/* RFC 1071 ones'-complement sum, folded (not inverted). */
uint16_t dp_csum_fold(uint32_t sum);
uint32_t dp_csum_add(uint32_t sum, const uint8_t *p, size_t n);

const char *dp_class_reason_name(enum dp_class_reason r);

#endif /* DERPER_DATAPLANE_CLASSIFY_H */
