/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal to tls/: one TLS thread and the client sessions it owns.
 *
 * A session's life: TLS handshake -> HTTP request head -> (a response, and
 * maybe another request) or an upgrade to DERP, plain or inside WebSocket
 * -> ServerKey sent, ClientInfo awaited -> registered with the forwarding
 * lcore, ServerInfo sent -> relaying -> closing. Every close has one
 * counted reason (enum tls_close_reason).
 *
 * Nothing here is shared with another thread: other threads name a
 * session by (TLS thread, id, generation).
 */
#ifndef DERPER_TLS_SESSION_H
#define DERPER_TLS_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/token_bucket.h"
#include "config/config.h"
#include "dataplane/dataplane.h"
#include "dataplane/ring_msg.h"
#include "tls/counters.h"
#include "tls/frame.h"
#include "tls/heard.h"
#include "tls/record.h"
#include "tls/send_queue.h"
#include "tls/timer_wheel.h"
#include "tls/websocket.h"

struct admit_link;
struct admit_msg;
struct rte_mbuf;
struct ssl_st;
struct tls_ctx;

enum session_state {
	S_TLS,			/* TLS handshake */
	S_HTTP,			/* reading a request head */
	S_CLIENT_INFO,		/* DERP upgraded, ServerKey sent */
	S_VERIFYING,		/* ClientInfo opened; waiting for admission */
	S_RUN,			/* registered: relaying */
	S_CLOSING,		/* flushing the last bytes, then closed */
	S_DEAD,			/* closed; reaped at the end of the loop */
};

enum session_flags {
	SF_WS = 1 << 0,			/* WebSocket transport */
	SF_MESH = 1 << 1,		/* presented the mesh key */
	SF_PROBER = 1 << 2,
	SF_NOTIDEAL = 1 << 3,		/* Ideal-Node header */
	SF_DUP = 1 << 4,		/* one of several conns of its key */
	SF_ACTIVE = 1 << 5,		/* gets the key's packets */
	SF_ACTIVE_ASKED = 1 << 6,	/* DP_MSG_ACTIVE sent, no answer yet */
	SF_REGISTERED = 1 << 7,		/* SESSION_UP sent */
	SF_DIRTY = 1 << 8,		/* on the flush list */
	SF_READ_AGAIN = 1 << 9,		/* read budget hit: more to read */
	SF_KEEPALIVE = 1 << 10,		/* a KeepAlive frame is due */
	SF_RESTARTING = 1 << 11,	/* a Restarting frame is due */
	SF_PONG = 1 << 12,		/* a Pong is due */
	SF_PING = 1 << 13,		/* a server Ping is due */
	SF_TLS_WANTS_WRITE = 1 << 14,	/* handshake waits for EPOLLOUT */
	SF_CAN_ACK_PINGS = 1 << 15,
	SF_PKT_DROP = 1 << 16,		/* streaming a SendPacket we dropped */
	SF_WS_CLOSE_SENT = 1 << 17,
	SF_HEALTH = 1 << 18,		/* a Health frame is due */
	SF_UNHEALTHY = 1 << 19,		/* the client was sent a problem */
	SF_PORT80 = 1 << 20,		/* came in on the port-80 listener */
	SF_OPEN = 1 << 21,		/* counted in cnt.open[transport] */
	SF_THROTTLED = 1 << 22,		/* over its receive rate: not read */
	SF_OUT_PAUSED = 1 << 23,	/* unsent output over OUT_PAUSE: not read */
	SF_HUP = 1 << 24,		/* epoll saw the peer's FIN or an error */
};

struct pending_down {
	uint8_t key[32];
	uint32_t id, gen;
};

/* A PeerGone frame waiting to be written. */
struct pending_gone {
	uint8_t key[32];
	uint8_t reason;
};

/* A watcher update (mesh peer after WatchConns): PeerPresent or PeerGone,
 * written in the order the forwarding lcore produced them. */
struct watch_event {
	uint8_t key[32];
	uint8_t ip[16];
	uint16_t port;
	uint8_t flags;		/* PeerPresent flags */
	uint8_t present;	/* 1: PeerPresent, 0: PeerGone(key, 0) */
};

struct session {
	uint32_t id, gen;
	int fd;
	uint8_t state;			/* enum session_state */
	uint8_t close_reason;		/* enum tls_close_reason */
	uint8_t transport;		/* enum tls_transport, once running */
	uint32_t flags;			/* enum session_flags */
	struct ssl_st *ssl;		/* handshake, and TLS 1.2 sessions */
	struct tls13_rec *rec;		/* TLS 1.3 records after the handshake */

	uint64_t deadline_ms;		/* handshake, head, drain; 0 = none */
	uint64_t keepalive_ms;		/* next KeepAlive */
	uint64_t stall_ms;		/* output blocked since; 0 = flowing */
	uint64_t ping_sent_ns;		/* outstanding server Ping */

	uint8_t key[32];		/* client's node key (S_RUN) */
	uint8_t ip[16];			/* remote address, v4-mapped */
	uint16_t port;

	/* input: the HTTP head until upgrade */
	char *head;
	uint32_t head_len, head_scan;
	struct derp_rx rx;
	struct ws_rx *ws;
	uint8_t *held;			/* DERP bytes that came while verifying */
	uint32_t held_len, held_cap;
	struct rte_mbuf *pkt;		/* SendPacket being streamed in */
	struct rte_mbuf *pkt_seg;	/* its last segment */

	/* output not yet taken by the socket (bytes are final: TLS needs
	 * the same bytes on retry) */
	uint8_t *out;
	uint32_t out_len, out_off, out_cap;
	struct send_queue sq;
	uint8_t pong[8];
	uint8_t ping[8];
	struct pending_gone *gone;	/* PeerGone frames due */
	uint32_t nb_gone, cap_gone;
	struct watch_event *wev;	/* watcher updates due: a FIFO */
	uint32_t wev_head, wev_len, wev_cap;
	struct token_bucket nothere;	/* NotHere limiter: 1/s, burst 3 */

	/* limits.client_bytes_per_sec: a token bucket in bytes */
	struct token_bucket rx_rate;
	uint64_t throttle_until_ms;
	struct session *prev_thr, *next_thr;	/* the thread's throttled list */

	struct heard_conn heard;
	struct session *next_dirty;
	struct session *next_read;
	struct session *prev, *next;	/* all sessions of the thread */
	struct session *next_dead;	/* closed this iteration: to free */
	struct tw_node timer;		/* in the thread's wheel: next deadline */
	/* buffer bytes of the packets in sq, and the thread's list of the
	 * sessions holding any (the relay-wide budget's candidates) */
	uint32_t q_bytes;
	struct session *prev_q, *next_q;
};

enum { TLS_STAGE = 64 };

/* The TLS context new handshakes use and the configuration snapshot,
 * replaced by tls_server_set_ctx() / tls_server_set_cfg(): threads adopt
 * both at the top of their loop and say so in ctx_seen. */
struct tls_ctx_pub {
	_Atomic(struct tls_ctx *) ctx;
	_Atomic(const struct derper_config *) cfg;
	_Atomic uint64_t gen;
};

struct tls_thread {
	struct dp_lcore *fwd;		/* inline forwarder, or NULL (dataplane.h) */
	unsigned int id;
	pthread_t thread;
	const struct derper_config *cfg;
	struct tls_ctx *ctx;		/* NULL: plain HTTP */
	struct tls_ctx_pub *ctx_pub;	/* where replacements appear */
	uint64_t ctx_gen;		/* generation of ctx */
	_Atomic uint64_t ctx_seen;	/* ctx_gen, UINT64_MAX once exited */
	const uint8_t *server_priv;	/* owned by server.c */
	const uint8_t *server_pub;
	const uint8_t *mesh_key;	/* NULL: no mesh configured */
	int epfd;
	int listen_fd;
	int http80_fd;			/* port-80 companion; -1 if none */
	struct dp_tls_link *link;
	struct admit_link *admit;	/* NULL: admission off */
	unsigned int admit_out;		/* requests without a verdict yet */

	struct session **slots;		/* by id; NULL when free */
	uint32_t *gens;			/* generation per slot */
	uint32_t nb_slots, cap_slots;
	uint32_t *free_ids;
	uint32_t nb_free;
	struct session *all;		/* list of every session */
	struct session *dead;		/* closed, freed at the end of the iteration */
	struct timer_wheel wheel;	/* sessions by their next deadline */
	/* Packets queued to this thread's sessions, in mbuf buffer bytes, and
	 * the most they may hold: half the DERP pool, shared by the threads */
	uint64_t q_bytes, q_budget;
	unsigned int pool_reserve;	/* mbufs only one-mbuf packets may take */
	struct session *queued;		/* sessions with q_bytes > 0 */
	uint32_t nb_queued;
	struct session *hog;		/* the biggest holder last found */
	uint32_t nb_sessions;		/* accepted and not yet reaped */
	_Atomic uint32_t *all_sessions;	/* every thread's: limits.max_sessions */
	uint64_t accept_resume_ms;	/* out of fds: accepting paused until */
	uint32_t accept_backoff_ms;
	struct session *dirty;		/* sessions with something to write */
	struct session *read_again;	/* read budget hit: read again */
	size_t unserviced;		/* bytes read since the rings were served */
	struct session *throttled;	/* over their rate, until a time */
	unsigned int nb_threads;	/* TLS threads: accept_rate is shared */
	struct token_bucket accept;	/* this thread's share of accept_rate */

	struct rte_mbuf *stage[TLS_STAGE];	/* to the forwarding lcore */
	unsigned int nb_stage;
	/* control messages the ring had no room for: sent first, never
	 * dropped (a lost session_down would leave a key routed here) */
	struct rte_mbuf **backlog;
	unsigned int nb_backlog, cap_backlog;
	/* session_down notices that found the pool empty */
	struct pending_down *downs;
	unsigned int nb_downs, cap_downs;

	struct tls13_engine rec_eng;	/* AEAD contexts for s->rec */
	uint8_t *rbuf;			/* read scratch */
	uint8_t *wbuf;			/* write scratch (with WS headroom) */
	struct heard_index heard;
	struct tls_counters cnt;
	uint64_t fwd_bounds_tsc[TLS_FWD_BUCKETS - 1];	/* TLS_FWD_BOUNDS_US in TSC cycles */

	uint64_t now_ms;
	uint64_t next_sweep_ms;
	_Atomic int quit;		/* stop now */
	_Atomic int drain;		/* SIGTERM: Restarting, flush, close */
	bool draining;
	uint64_t drain_deadline_ms;
};

/* session.c: the per-session state machine */
void session_on_io(struct tls_thread *t, struct session *s, bool readable,
		   bool writable);
void session_flush(struct tls_thread *t, struct session *s);
void session_close(struct tls_thread *t, struct session *s, int reason);
void session_free(struct tls_thread *t, struct session *s);
void session_mark_dirty(struct tls_thread *t, struct session *s);
void session_unthrottle(struct tls_thread *t, struct session *s);
void session_timers(struct tls_thread *t, struct session *s);
/* (Re)schedule s's timer for its next deadline, write timeout or KeepAlive,
 * after any of them is set. */
void session_timer_arm(struct tls_thread *t, struct session *s);
void session_deliver(struct tls_thread *t, struct rte_mbuf *m);
void session_peer_gone(struct tls_thread *t, struct session *s,
		       const uint8_t key[32], uint8_t reason, bool limit);
void session_start_drain(struct tls_thread *t, struct session *s);
void session_dup_state(struct tls_thread *t, struct session *s, uint8_t flags);
void session_watch_event(struct tls_thread *t, struct session *s,
			 const struct dp_msg *d);
void session_verdict(struct tls_thread *t, const struct admit_msg *m);

/* tls_thread.c helpers used by session.c */
struct session *tls_thread_lookup(struct tls_thread *t, uint32_t id,
				  uint32_t gen);
void tls_thread_stage(struct tls_thread *t, struct rte_mbuf *m);
void tls_thread_session_down(struct tls_thread *t, const uint8_t key[32],
			     uint32_t id, uint32_t gen);

#endif /* DERPER_TLS_SESSION_H */
