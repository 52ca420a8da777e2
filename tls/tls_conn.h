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
struct tls13_engine;
struct tls13_rec;

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

/*
 * ACME challenge material, set on a context before it is published
 * (tls_server_set_ctx): HTTP-01 key authorizations served on the port-80
 * listener, and the TLS-ALPN-01 validation certificate for `name`. 0 or
 * -errno.
 */
struct x509_st;
struct evp_pkey_st;
int tls_ctx_add_http01(struct tls_ctx *ctx, const char *token,
		       const char *keyauth);
int tls_ctx_set_alpn01(struct tls_ctx *ctx, const char *name,
		       struct x509_st *cert, struct evp_pkey_st *key);

/* The key authorization for an HTTP-01 token, NULL if none. */
const char *tls_ctx_http01(const struct tls_ctx *ctx, const char *token,
			   size_t n);

/* Was this handshake a TLS-ALPN-01 validation (acme-tls/1)? */
bool tls_io_acme_alpn(struct ssl_st *ssl);

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

/*
 * After the handshake: hand a TLS 1.3 session's records to rec (tls/record.h)
 * so the SSL object can be freed. 0 when done; -1 when OpenSSL keeps the
 * session (TLS 1.2, or bytes already buffered).
 */
int tls_io_detach(struct ssl_st *ssl, struct tls13_engine *e,
		  struct tls13_rec *rec);

/* >0 bytes, 0 on end of stream (clean or not), -EAGAIN, -EIO. */
ssize_t tls_io_read(struct ssl_st *ssl, void *buf, size_t len);

/* >0 bytes written (may be partial), -EAGAIN, -EIO. A write that
 * returned -EAGAIN must be retried with the same bytes. */
ssize_t tls_io_write(struct ssl_st *ssl, const void *buf, size_t len);

/* After -EAGAIN: does OpenSSL wait for the socket to be writable? */
bool tls_io_wants_write(struct ssl_st *ssl);

/* Negotiated protocol: "TLSv1.3", "TLSv1.2". */
const char *tls_io_version(struct ssl_st *ssl);

/* Decrypted bytes buffered inside OpenSSL, readable without the socket. */
bool tls_io_pending(struct ssl_st *ssl);

/* Send close_notify, best effort. */
void tls_io_shutdown(struct ssl_st *ssl);

#endif /* DERPER_TLS_TLS_CONN_H */
