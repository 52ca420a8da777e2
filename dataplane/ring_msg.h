/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every message that crosses a ring between a TLS thread and the
 * forwarding lcore. This is the only dataplane header tls/ includes
 * besides wake.h.
 *
 * A message is an rte_mbuf from the shared pool. Its metadata lives in the
 * mbuf's private area (struct dp_msg); a relayed packet's payload is the
 * mbuf's data (chained beyond one segment). Enqueueing hands the mbuf
 * over: the sender must not touch it again; on a failed enqueue the sender
 * still owns it, frees it and counts a drop.
 *
 * Sessions are named across threads by (tls thread, id, generation): a
 * message for a session whose slot has since been reused carries an old
 * generation and is dropped by the receiver (counted), never misdelivered.
 *
 * Ordering: session_up, send and session_down of one session travel the
 * same SP/SC ring, so the forwarding lcore sees them in the order the TLS
 * thread produced them.
 */
#ifndef DERPER_DATAPLANE_RING_MSG_H
#define DERPER_DATAPLANE_RING_MSG_H

#include <stdint.h>

#include <rte_mbuf.h>

enum { DP_KEY_LEN = 32 };

enum dp_msg_type {
	/* TLS thread -> forwarding lcore */
	DP_MSG_SESSION_UP = 1,	/* key registered; flags DP_SESS_*, addr */
	DP_MSG_SESSION_DOWN,	/* key's connection closed */
	DP_MSG_SEND,		/* key = destination; data = packet */
	DP_MSG_ACTIVE,		/* a duplicate connection spoke: make it active */
	/* mesh (docs/protocol.md §7) */
	DP_MSG_WATCH,		/* a mesh peer sent WatchConns; key = its key */
	DP_MSG_CLOSE_PEER,	/* a mesh peer sent ClosePeer(key) */
	DP_MSG_LINK_DOWN,	/* link `port` is gone: forget what it taught us */
	DP_MSG_FWD_ADD,		/* link `port` says key is there (PeerPresent) */
	DP_MSG_FWD_DEL,		/* link `port` says key left (PeerGone) */

	/* forwarding lcore -> TLS thread */
	DP_MSG_DELIVER = 16,	/* key = source; data = packet */
	DP_MSG_PEER_GONE,	/* key gone; flags = enum dp_peer_gone reason */
	DP_MSG_DUP,		/* flags: DP_DUP_* state of the session */
	DP_MSG_CLOSE,		/* close this session; flags = reason */
	DP_MSG_PEER_GONE_ALL,	/* key's last connection left: tell who heard from it */
	DP_MSG_PEER_PRESENT,	/* to a watcher: key, ip, port, flags (PeerPresent) */
	DP_MSG_WATCH_GONE,	/* to a watcher: key's last local conn left */
	DP_MSG_FORWARD,		/* to a mesh link: ForwardPacket(src, key = dst, data) */
};

/* DP_MSG_SESSION_UP flags; bits match derper's PeerPresent flags. */
enum dp_sess_flags {
	DP_SESS_REGULAR = 0x01,
	DP_SESS_MESH = 0x02,
	DP_SESS_PROBER = 0x04,
	DP_SESS_NOTIDEAL = 0x08,
};

/* DP_MSG_SEND / DP_MSG_DELIVER flags. */
enum dp_pkt_flags {
	DP_PKT_DISCO = 0x01,	/* payload looks like disco: its own queue */
	DP_PKT_FORWARDED = 0x02,	/* came in as ForwardPacket: never forwarded again */
};

/* DP_MSG_DUP flags. A duplicate connection that is not active reports
 * each frame it reads with DP_MSG_ACTIVE (derper: last speaker wins). */
enum dp_dup_flags {
	DP_DUP_SET = 0x01,	/* one of several connections of its key */
	DP_DUP_ACTIVE = 0x02,	/* receives the key's packets */
};

/* DP_MSG_PEER_GONE flags: the DERP PeerGone reason byte. */
enum dp_peer_gone {
	DP_GONE_DISCONNECTED = 0x00,
	DP_GONE_NOT_HERE = 0x01,
};

/* DP_MSG_CLOSE flags. */
enum dp_close_reason {
	DP_CLOSE_TABLE_FULL = 1,	/* no room in the session table */
	DP_CLOSE_TOO_MANY_DUPS,		/* oldest of too many conns of one key */
	DP_CLOSE_PEER,			/* a mesh peer asked (ClosePeer) */
};

enum { DP_MESH_LINKS = 64 };	/* outbound mesh links (mesh.peers) */

struct dp_msg {
	uint8_t type;		/* enum dp_msg_type */
	uint8_t flags;		/* per type, see above */
	uint16_t tls;		/* TLS thread that owns the session */
	uint32_t id;		/* session slot in that thread */
	uint32_t gen;		/* generation of the slot */
	uint16_t port;		/* SESSION_UP: remote TCP port; LINK_* and FWD_*: link id */
	uint16_t pad;
	/* SEND: destination; UP/DOWN/ACTIVE: the session's key;
	 * PEER_GONE(_ALL): the peer that is gone */
	uint8_t key[DP_KEY_LEN];
	/* SEND, DELIVER: the sender's key (RecvPacket's source) */
	uint8_t src[DP_KEY_LEN];
	union {
		uint8_t ip[16];	/* SESSION_UP: remote IP, v4 as ::ffff:a.b.c.d */
		/* SEND, DELIVER, FORWARD: TSC when the TLS thread read the
		 * packet's first bytes (the forward-delay histogram) */
		uint64_t tsc_in;
	};
} __attribute__((aligned(8)));

static inline struct dp_msg *
dp_msg(struct rte_mbuf *m)
{
	return (struct dp_msg *)rte_mbuf_to_priv(m);
}

#endif /* DERPER_DATAPLANE_RING_MSG_H */
