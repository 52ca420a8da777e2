/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Listening sockets (after Redis anet.c): non-blocking, close-on-exec,
 * SO_REUSEADDR, SO_REUSEPORT so every TLS thread accepts on its own socket
 * for the same address, dual-stack for a wildcard host ("[::]" also takes
 * IPv4), and the per-connection TCP options derper sets.
 */
#ifndef DERPER_TLS_LISTENER_H
#define DERPER_TLS_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"

/*
 * Listen on "host:port" (listen syntax) or, when port_override >= 0, on the
 * host of `addr` with that port. Returns the fd or -errno with the cause
 * in err ("listen [::]:443: Address already in use").
 */
int tls_listener_open(const char *addr, int port_override, char *err,
		      size_t errlen);

/* The port a listening socket is bound to (ephemeral ports in tests). */
int tls_listener_port(int fd);

/*
 * Options for an accepted client socket: TCP_NODELAY, keepalive idle
 * (tcp_keepalive_s, 0 = off), TCP_USER_TIMEOUT (tcp_user_timeout_s).
 */
void tls_socket_tune(int fd, const struct derper_config *cfg);

/* Remote address as 16 bytes (IPv4 mapped) and port, for PeerPresent
 * and admission; a printable form in text. */
void tls_socket_peer(const struct sockaddr_storage *ss, uint8_t ip[16],
		     uint16_t *port, char *text, size_t textlen);

#endif /* DERPER_TLS_LISTENER_H */
