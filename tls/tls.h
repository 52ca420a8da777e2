/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS side as control sees it: the server key, the TLS context, the
 * listeners and the TLS threads. Control thread only, except
 * tls_server_counters().
 */
#ifndef DERPER_TLS_TLS_H
#define DERPER_TLS_TLS_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "tls/counters.h"

/*
 * Load or create the server key, build the TLS context when TLS is
 * served, open one SO_REUSEPORT listener per TLS thread. After dp_init().
 * admit(i) is TLS thread i's link to the admission thread (NULL: admission
 * off; the callback itself may be NULL). Returns 0 or -errno with the cause
 * logged.
 */
struct admit_link;
int tls_server_init(const struct derper_config *cfg,
		    struct admit_link *(*admit)(unsigned int tls));

/* Start the threads on `cpus` (the CPUs the dataplane does not use). */
int tls_server_start(const cpu_set_t *cpus);

/*
 * Graceful stop (SIGTERM): every session gets a Restarting frame, queues
 * are flushed, sessions closed; waits up to shutdown.drain_timeout_s (+1 s)
 * then stops whatever is left. Returns the number of sessions that were
 * told to restart.
 */
unsigned long tls_server_drain(void);

/* Immediate stop of every thread. */
void tls_server_stop(void);

/* Free everything; wipes the server key. */
void tls_server_uninit(void);

/* The DERP listener's port (useful when listen asked for port 0). */
int tls_server_port(void);

/*
 * The server's key pair and the mesh key (NULL when none is configured),
 * for the mesh links, which dial siblings with the server key as their
 * client key. Valid from tls_server_init() to tls_server_uninit(); the
 * bytes never change in between. False before init.
 */
bool tls_server_identity(const uint8_t **priv, const uint8_t **pub,
			 const uint8_t **mesh_key);

/*
 * Certificates at run time. tls_server_new_ctx() builds a context from the
 * configuration as it is now (certificate files re-read), to which ACME
 * challenge material may be added (tls/tls_conn.h); tls_server_set_ctx()
 * publishes it: every new handshake uses it once each TLS thread has taken
 * it (within one loop iteration; they are woken), established sessions
 * are not touched, and the old context goes when the last handshake using
 * it is over. Takes over ctx's reference. Any control thread; serialized.
 */
struct tls_ctx;
struct tls_ctx *tls_server_new_ctx(char *err, size_t errlen);
int tls_server_set_ctx(struct tls_ctx *ctx);

/* SIGHUP: the TLS threads move to a new configuration snapshot (the
 * reloadable keys: limits, timeouts, shutdown). 0 once every thread has,
 * so the previous snapshot may be freed; -ETIMEDOUT otherwise. */
int tls_server_set_cfg(const struct derper_config *cfg);

/* Sum of every thread's counters. Any thread. */
void tls_server_counters(struct tls_counters *out);

/* limits.max_sessions in force (it reloads); 0: no limit. Any thread. */
int64_t tls_server_max_sessions(void);

#endif /* DERPER_TLS_TLS_H */
