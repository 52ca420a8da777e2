/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lifecycle of one TLS thread (used by tls/server.c).
 */
#ifndef DERPER_TLS_TLS_THREAD_H
#define DERPER_TLS_TLS_THREAD_H

#include <sched.h>
#include <stdint.h>

#include "tls/session.h"

/* Set up (no thread yet). The thread takes over listen_fd. 0 or -errno. */
int tls_thread_init(struct tls_thread *t, unsigned int id,
		    const struct derper_config *cfg, struct tls_ctx *ctx,
		    const uint8_t *priv, const uint8_t *pub, int listen_fd,
		    struct dp_tls_link *link, struct admit_link *admit);

/* Also accept on fd, the port-80 companion listener (§10.2): plain HTTP,
 * no DERP. The thread takes it over. 0 or -errno. */
int tls_thread_add_http80(struct tls_thread *t, int fd);

/* Start the thread on `cpus` (NULL: inherit). 0 or -errno. */
int tls_thread_start(struct tls_thread *t, const cpu_set_t *cpus);

/* Wake the thread out of epoll_wait (it then adopts a new context). */
void tls_thread_kick(struct tls_thread *t);

/* Graceful: stop accepting, send Restarting to every session, flush,
 * close; the thread exits when its last session is gone. Any thread. */
void tls_thread_request_drain(struct tls_thread *t);

/* Stop now (closing what is left) and join. Control thread. */
void tls_thread_stop(struct tls_thread *t);

void tls_thread_uninit(struct tls_thread *t);

/* Add this thread's counters to *out (relaxed reads). Any thread. */
void tls_thread_counters(const struct tls_thread *t, struct tls_counters *out);

#endif /* DERPER_TLS_TLS_THREAD_H */
