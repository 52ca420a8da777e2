/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Certificates for the TLS listener, by cert.mode:
 *   manual      <cert.dir>/<name>.crt and .key (derper's naming: hostname
 *               with everything outside [A-Za-z0-9.-] removed); for an IP
 *               hostname they are created self-signed when missing, as
 *               derper does. The leaf must be valid for the hostname.
 *   selfsigned  the same files, created (ECDSA P-256, one year, SANs for
 *               the hostname, localhost, 127.0.0.1 and ::1) when missing,
 *               expired, within 30 days of expiry or not covering the
 *               hostname; reused across restarts.
 * Plus derper's meta certificate (docs/protocol.md §5.2) appended last to
 * the chain: ed25519, CN "derpkey<hex server key>", serial 2 (the
 * protocol version), valid from 30 days ago to 30 days ahead. It lets
 * TLS 1.3 clients use Derp-Fast-Start.
 *
 * Uses OpenSSL; the only other file that does is tls_conn.c.
 */
#ifndef DERPER_TLS_CERT_H
#define DERPER_TLS_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct ssl_ctx_st;

/*
 * Load or create the certificate for `cfg` and install leaf, chain, key
 * and the meta certificate into ctx. Returns 0, or -errno with a message
 * in err naming the file or the cause.
 */
int tls_cert_install(struct ssl_ctx_st *ctx, const struct derper_config *cfg,
		     const uint8_t server_pub[32], char *err, size_t errlen);

/* <cert.dir>/<name>.crt and .key for cfg's hostname (derper's naming). */
void tls_cert_paths(const struct derper_config *cfg, char *crt, char *key,
		    size_t len);

/* Atomic writes (temp file, fsync, rename): a PEM private key (0600), or
 * bytes as given. 0 or -errno. */
struct evp_pkey_st;
struct x509_st;
int tls_cert_write_key(const char *path, struct evp_pkey_st *key);
int tls_cert_write_file(const char *path, unsigned int mode, const void *data,
			size_t len);

/* A self-signed leaf (SHA-256, CA:FALSE, serverAuth) valid for `days`. */
struct x509_st *tls_cert_self_signed(struct evp_pkey_st *key, const char *cn,
				     const char *san, long days);

/* Lower-case hex SHA-256 of the installed leaf's DER (derper's
 * "sha256-raw:<hex>" CertName pin for self-signed certificates). */
int tls_cert_leaf_sha256(struct ssl_ctx_st *ctx, char hex[65]);

#endif /* DERPER_TLS_CERT_H */
