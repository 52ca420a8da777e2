/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-TLS-thread counters: one writer (the thread), relaxed stores; the
 * metrics code sums them with relaxed loads. Every session close has
 * exactly one reason; every packet drop exactly one reason.
 */
#ifndef DERPER_TLS_COUNTERS_H
#define DERPER_TLS_COUNTERS_H

#include <stdint.h>

enum tls_close_reason {
	TLS_CLOSE_EOF,			/* the client closed */
	TLS_CLOSE_READ_ERROR,
	TLS_CLOSE_WRITE_ERROR,
	TLS_CLOSE_WRITE_TIMEOUT,	/* no progress for tcp_write_timeout_s */
	TLS_CLOSE_TLS_HANDSHAKE,	/* TLS handshake failed */
	TLS_CLOSE_HANDSHAKE_TIMEOUT,	/* TLS/HTTP/ClientInfo not in time */
	TLS_CLOSE_HTTP_BAD_REQUEST,	/* malformed or oversized head */
	TLS_CLOSE_HTTP_DONE,		/* response written, no keep-alive */
	TLS_CLOSE_BAD_FRAME,		/* a length or type rule of §3 broken */
	TLS_CLOSE_BAD_CLIENT_INFO,	/* not ClientInfo, bad box or JSON */
	TLS_CLOSE_NOT_MESH,		/* mesh frame from a regular client */
	TLS_CLOSE_WEBSOCKET,		/* WebSocket protocol violation/close */
	TLS_CLOSE_TABLE_FULL,		/* the forwarding lcore had no room */
	TLS_CLOSE_DUPLICATE,		/* evicted: too many conns of one key */
	TLS_CLOSE_NO_MEMORY,
	TLS_CLOSE_SHUTDOWN,		/* relay stopping */
	TLS_CLOSE_LIMIT,		/* max_sessions */
	TLS_CLOSE_MESH_CLOSE_PEER,	/* a mesh peer sent ClosePeer for it */
	TLS_CLOSE_VERIFY_REJECTED,	/* admission said no */
	TLS_CLOSE_VERIFY_TIMEOUT,	/* no verdict within verify.timeout_s */
	TLS_CLOSE_VERIFY_OVERLOAD,	/* too many verifications at once */
	TLS_CLOSE_TLS_RECORD,		/* bad TLS 1.3 record or fatal alert */
	TLS_CLOSE_ACME_ALPN,		/* TLS-ALPN-01 validation done */
	TLS_CLOSE_ACCEPT_RATE,		/* limits.accept_rate: closed at once */
	TLS_CLOSE_NB
};

enum tls_drop_reason {
	TLS_DROP_QUEUE_HEAD,		/* send queue full: oldest dropped */
	TLS_DROP_GONE,			/* destination closed meanwhile */
	TLS_DROP_WRITE_ERROR,		/* queued when the session failed */
	TLS_DROP_RING_FULL,		/* tls->dp ring full */
	TLS_DROP_NO_MBUF,		/* mbuf pool empty */
	TLS_DROP_QUEUE_BYTES,		/* over limits.send_queue_bytes: oldest dropped */
	TLS_DROP_OVER_BUDGET,		/* all queues over their share of the pool:
					 * oldest of the biggest holder dropped */
	TLS_DROP_POOL_RESERVE,		/* a multi-mbuf packet would have taken
					 * the pool's last eighth */
	TLS_DROP_NB
};

enum tls_transport {
	TLS_TR_TLS,			/* DERP over TLS */
	TLS_TR_PLAIN,			/* DERP over plain HTTP */
	TLS_TR_WEBSOCKET,		/* DERP in WebSocket (TLS or not) */
	TLS_TR_NB
};

/* Histogram bucket upper bounds (the last bucket is +Inf). */
#define TLS_RTT_BOUNDS_US {250, 500, 1000, 2500, 5000, 10000, 25000, 50000, \
			   100000, 250000, 500000, 1000000}
enum { TLS_RTT_BUCKETS = 13 };
#define TLS_SQ_BOUNDS {1, 2, 4, 8, 16, 32, 64, 128}
enum { TLS_SQ_BUCKETS = 9 };
/* Forward delay: from reading a packet to building its frame for the
 * receiver's socket (the relay's own queueing, both threads' turns). */
#define TLS_FWD_BOUNDS_US {10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, \
			   25000, 100000, 250000, 1000000}
enum { TLS_FWD_BUCKETS = 15 };

struct tls_counters {
	uint64_t accepts;
	uint64_t sessions_derp;		/* registered DERP sessions, total */
	uint64_t sessions_ws;
	uint64_t http_requests;
	uint64_t frames_in;
	uint64_t packets_in;		/* SendPacket */
	uint64_t bytes_in;		/* SendPacket payload bytes */
	uint64_t packets_out;		/* RecvPacket */
	uint64_t bytes_out;
	uint64_t pings_in;
	uint64_t pongs_out;
	uint64_t peer_gone_disconnected;
	uint64_t peer_gone_not_here;
	uint64_t keepalives;
	uint64_t restarting_sent;
	uint64_t rtt_samples;
	uint64_t rtt_us_sum;
	uint64_t mesh_sessions;		/* sessions that presented the mesh key */
	uint64_t mesh_bad_key;		/* a mesh key that is not ours */
	uint64_t mesh_watch;		/* WatchConns received */
	uint64_t mesh_watch_self;	/* ... from our own key: ignored */
	uint64_t mesh_forward_in;	/* ForwardPacket received */
	uint64_t mesh_close_peer;	/* ClosePeer received */
	uint64_t watch_events_out;	/* PeerPresent/PeerGone to watchers */
	uint64_t verify_requests;	/* sessions sent to admission */
	uint64_t verify_admitted;
	uint64_t tls13_records;		/* sessions whose records we carry */
	uint64_t tls_openssl;		/* sessions OpenSSL kept (TLS 1.2) */
	uint64_t key_updates_in;	/* KeyUpdate received (closed sessions) */
	uint64_t key_updates_out;
	uint64_t throttles;		/* reading paused: client over its rate */
	uint64_t output_pauses;		/* reading paused: its output backed up */
	uint64_t read_yields;		/* a session's read stopped at its budget */
	uint64_t early_flushes;		/* a full queue written before a drop */
	uint64_t accept_pauses;		/* accepting paused: out of descriptors */
	uint64_t queued_bytes;		/* gauge: buffer bytes of queued packets */
	uint64_t writes;		/* write calls */
	uint64_t reads;
	uint64_t open[TLS_TR_NB];	/* gauge: DERP sessions now (wraps) */
	uint64_t rtt_hist[TLS_RTT_BUCKETS];	/* server ping RTT */
	uint64_t sq_hist[TLS_SQ_BUCKETS];	/* send queue depth at enqueue */
	uint64_t sq_depth_sum;
	uint64_t fwd_hist[TLS_FWD_BUCKETS];	/* forward delay */
	uint64_t fwd_tsc_sum;		/* in TSC cycles: no division per packet */
	uint64_t closes[TLS_CLOSE_NB];
	uint64_t drops[TLS_DROP_NB];
} __attribute__((aligned(64)));

#define TLS_COUNT(c, field, n)                                             \
	__atomic_store_n(&(c)->field, (c)->field + (n), __ATOMIC_RELAXED)

#define TLS_READ(c, field) __atomic_load_n(&(c)->field, __ATOMIC_RELAXED)

/* Names for logs and metrics. */
const char *tls_close_reason_name(int reason);
const char *tls_drop_reason_name(int reason);
const char *tls_transport_name(int t);

#endif /* DERPER_TLS_COUNTERS_H */
