/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cryptography of the ACME client (RFC 8555, RFC 7515/7638, RFC 8737),
 * stateless: the account's JWK and thumbprint, ES256 signatures in JWS
 * form, the CSR, the check of an issued chain, and the TLS-ALPN-01
 * validation certificate. OpenSSL only; any thread.
 */
#ifndef DERPER_CONTROL_ACME_CRYPTO_H
#define DERPER_CONTROL_ACME_CRYPTO_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The P-256 account key's public JWK, members in RFC 7638 order, and its
 * SHA-256 thumbprint (base64url): the key authorizations' suffix. 0, -1. */
int acme_jwk(EVP_PKEY *account, char *jwk, size_t jwk_len, char *thumb,
	     size_t thumb_len);

/* ES256 over data: the raw 64-byte r || s a JWS carries, base64url. 0, -1. */
int acme_sign_es256(EVP_PKEY *account, const char *data, char *out,
		    size_t outlen);

/* A CSR for host (a DNS name or an IP literal) with key: DER, base64url.
 * 0, -1. */
int acme_csr(const char *host, EVP_PKEY *key, char *out, size_t outlen);

/* An issued chain (PEM): its first certificate must be for host and key.
 * 0 with its validity in *nb and *na, -1. */
int acme_check_chain(const char *host, const char *pem, size_t len,
		     EVP_PKEY *key, time_t *nb, time_t *na);

/* The TLS-ALPN-01 validation certificate (RFC 8737 §3): self-signed for
 * name, with the critical acmeIdentifier extension holding SHA-256 of the
 * key authorization. NULL on failure. */
X509 *acme_alpn_cert(const char *name, const char *keyauth, EVP_PKEY *key);

#endif /* DERPER_CONTROL_ACME_CRYPTO_H */
