/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DERP wire constants (docs/protocol.md §3, §4). Every frame is
 *
 *   u8 type | u32 payload length N (big-endian, header excluded) | N bytes
 *
 * Frame layouts (S->C server to client, C->S client to server):
 *   0x01 ServerKey     S->C  magic(8) | server_pub(32)
 *   0x02 ClientInfo    C->S  client_pub(32) | nonce(24) | box(JSON)
 *   0x03 ServerInfo    S->C  nonce(24) | box(JSON {"version":2})
 *   0x04 SendPacket    C->S  dst_pub(32) | packet (<= 64 KiB)
 *   0x05 RecvPacket    S->C  src_pub(32) | packet
 *   0x06 KeepAlive     S->C  (empty)
 *   0x07 NotePreferred C->S  1 byte: 0x01 home, 0x00 not
 *   0x08 PeerGone      S->C  peer_pub(32) | reason(1)
 *   0x09 PeerPresent   S->C  peer_pub(32) | ip16 | port(2) | flags(1)
 *   0x0a ForwardPacket mesh  src_pub(32) | dst_pub(32) | packet
 *   0x10 WatchConns    mesh  (empty)
 *   0x11 ClosePeer     mesh  target_pub(32)
 *   0x12 Ping          both  8 bytes (server accepts 8..1000)
 *   0x13 Pong          both  8 bytes
 *   0x14 Health        S->C  UTF-8 text, empty = healthy
 *   0x15 Restarting    S->C  reconnect_in_ms(u32) | try_for_ms(u32)
 */
#ifndef DERPER_TLS_DERP_WIRE_H
#define DERPER_TLS_DERP_WIRE_H

enum derp_frame_type {
	DERP_FRAME_SERVER_KEY = 0x01,
	DERP_FRAME_CLIENT_INFO = 0x02,
	DERP_FRAME_SERVER_INFO = 0x03,
	DERP_FRAME_SEND_PACKET = 0x04,
	DERP_FRAME_RECV_PACKET = 0x05,
	DERP_FRAME_KEEP_ALIVE = 0x06,
	DERP_FRAME_NOTE_PREFERRED = 0x07,
	DERP_FRAME_PEER_GONE = 0x08,
	DERP_FRAME_PEER_PRESENT = 0x09,
	DERP_FRAME_FORWARD_PACKET = 0x0a,
	DERP_FRAME_WATCH_CONNS = 0x10,
	DERP_FRAME_CLOSE_PEER = 0x11,
	DERP_FRAME_PING = 0x12,
	DERP_FRAME_PONG = 0x13,
	DERP_FRAME_HEALTH = 0x14,
	DERP_FRAME_RESTARTING = 0x15,
};

enum derp_sizes {
	DERP_FRAME_HEADER_LEN = 5,
	DERP_KEY_LEN = 32,
	DERP_NONCE_LEN = 24,
	DERP_BOX_OVERHEAD = 16,			/* Poly1305 MAC */
	DERP_MAGIC_LEN = 8,
	DERP_MAX_PACKET = 64 << 10,		/* relayed payload cap */
	DERP_CLIENT_INFO_MIN = 32 + 24,		/* key + nonce: derper's minimum */
	DERP_CLIENT_INFO_MAX = 256 << 10,
	DERP_PING_MIN = 8,
	DERP_PING_MAX = 1000,
	DERP_PING_LEN = 8,
	DERP_PEER_PRESENT_LEN = 32 + 16 + 2 + 1,	/* 51 */
	DERP_PROTOCOL_VERSION = 2,
	DERP_DISCO_MIN = 62,			/* disco packets are >= 62 bytes */
	DERP_KEEPALIVE_MS = 60000,
	DERP_KEEPALIVE_JITTER_MS = 5000,
};

/* "DERP" + U+1F511 (key) in UTF-8 */
#define DERP_MAGIC "DERP\xf0\x9f\x94\x91"

/* Disco packets start with "TS" + U+1F4AC (speech balloon) in UTF-8. */
#define DERP_DISCO_MAGIC "TS\xf0\x9f\x92\xac"
#define DERP_DISCO_MAGIC_LEN 6

#endif /* DERPER_TLS_DERP_WIRE_H */
