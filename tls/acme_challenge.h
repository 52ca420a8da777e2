/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ACME challenge material a TLS context serves (RFC 8555 §8.3, RFC 8737):
 * HTTP-01 key authorizations answered on the port-80 listener, and the
 * TLS-ALPN-01 validation certificate presented to a ClientHello that asks
 * for the hostname and offers acme-tls/1. The material is set by the ACME
 * thread on a new context before it is published (tls_server_set_ctx) and
 * read-only afterwards; it lives as long as its context.
 */
#ifndef DERPER_TLS_ACME_CHALLENGE_H
#define DERPER_TLS_ACME_CHALLENGE_H

#include <stdbool.h>
#include <stddef.h>

struct ssl_st;
struct ssl_ctx_st;
struct x509_st;
struct evp_pkey_st;
struct tls_acme;

/* Material for one context, with the ClientHello callback installed on it.
 * NULL on ENOMEM. */
struct tls_acme *tls_acme_new(struct ssl_ctx_st *ctx);
void tls_acme_free(struct tls_acme *a);

/* A token and its key authorization; 0 or -ENOSPC. */
int tls_acme_add_http01(struct tls_acme *a, const char *token,
			const char *keyauth);

/* The validation certificate for `name` (references taken); 0 or -EIO. */
int tls_acme_set_alpn01(struct tls_acme *a, const char *name,
			struct x509_st *cert, struct evp_pkey_st *key);

/* The key authorization for an HTTP-01 token, NULL if none (a may be NULL). */
const char *tls_acme_http01(const struct tls_acme *a, const char *token,
			    size_t n);

/* Was this handshake a TLS-ALPN-01 validation (acme-tls/1)? */
bool tls_acme_alpn(struct ssl_st *ssl);

#endif /* DERPER_TLS_ACME_CHALLENGE_H */
