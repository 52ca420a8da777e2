/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * OpenSSL behind a small non-blocking interface: the server context (TLS
 * 1.2+, modern ciphers, ALPN http/1.1, no renegotiation, released buffers
 * for idle connections) and per-connection handshake/read/write with
 * OpenSSL's WANT_READ/WANT_WRITE folded into -EAGAIN.
 */
#ifndef DERPER_TLS_TLS_CONN_H
#define DERPER_TLS_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"

struct ssl_st;
struct tls_ctx;
struct tls_acme;

/*
 * Build the server context for cfg (certificates per cert.mode, the meta
 * certificate for server_pub). NULL with the cause in err. Thread-safe to
 * share once built; tls_ctx_get/put count references so a reload can swap
 * it while connections still use the old one.
 */
struct tls_ctx *tls_ctx_create(const struct derper_config *cfg,
			       const uint8_t server_pub[32], char *err,
			       size_t errlen);
struct tls_ctx *tls_ctx_get(struct tls_ctx *ctx);
void tls_ctx_put(struct tls_ctx *ctx);

/* The context's ACME challenge material (tls/acme_challenge.h): set on a
 * new context before it is published; NULL for NULL. */
struct tls_acme *tls_ctx_acme(const struct tls_ctx *ctx);

/* SHA-256 of the leaf, hex (derper's CertName "sha256-raw:<hex>"). */
int tls_ctx_leaf_sha256(struct tls_ctx *ctx, char hex[65]);

/* A server-side TLS connection on a non-blocking socket; NULL on ENOMEM. */
struct ssl_st *tls_io_new(struct tls_ctx *ctx, int fd);
void tls_io_free(struct ssl_st *ssl);

/*
 * Drive the handshake: 0 when done, -EAGAIN to wait for the socket
 * (tls_io_wants_write() tells which direction), -EPROTO when it failed.
 */
int tls_io_handshake(struct ssl_st *ssl);

/* >0 bytes, 0 on end of stream (clean or not), -EAGAIN, -EIO. */
ssize_t tls_io_read(struct ssl_st *ssl, void *buf, size_t len);

/* >0 bytes written (may be partial), -EAGAIN, -EIO. A write that
 * returned -EAGAIN must be retried with the same bytes. */
ssize_t tls_io_write(struct ssl_st *ssl, const void *buf, size_t len);

/* After -EAGAIN: does OpenSSL wait for the socket to be writable? */
bool tls_io_wants_write(struct ssl_st *ssl);

/* Send close_notify, best effort. */
void tls_io_shutdown(struct ssl_st *ssl);

#endif /* DERPER_TLS_TLS_CONN_H */
