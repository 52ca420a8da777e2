/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper's server key file: JSON {"PrivateKey": "privkey:<64 hex>"}. An
 * existing derper key file keeps the same server identity here.
 */
#ifndef DERPER_TLS_KEYFILE_H
#define DERPER_TLS_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tls/derp_wire.h"

/*
 * Parse key file contents (pure; fuzzed). As Go's encoding/json: the field
 * name matches case-insensitively, other fields are ignored. The value
 * must be "privkey:" and 64 hex digits (either case) and not all zero.
 * Returns 0 or -EINVAL with the reason in err.
 */
int tls_keyfile_parse(const char *text, size_t len,
		      uint8_t priv[DERP_KEY_LEN], char *err, size_t errlen);

/*
 * Load `path`, or create it with a fresh key when it does not exist
 * (directories 0700, file 0600, written atomically). A file readable by
 * others is refused. Returns 0 or -errno with the reason in err.
 */
int tls_keyfile_load(const char *path, uint8_t priv[DERP_KEY_LEN],
		     bool *created, char *err, size_t errlen);

/*
 * The regional mesh pre-shared key: 64 hex digits, surrounding whitespace
 * ignored, not all zero. _parse is pure (fuzzed); _load reads the file
 * with the same rules as the key file (others may not read it).
 * Returns 0 or -errno with the reason in err.
 */
int tls_mesh_key_parse(const char *text, size_t len, uint8_t key[DERP_KEY_LEN],
		       char *err, size_t errlen);
int tls_mesh_key_load(const char *path, uint8_t key[DERP_KEY_LEN], char *err,
		      size_t errlen);

/* A private key file may not be readable by every user (the server key,
 * the mesh key, the TLS and ACME account keys): 0, or -EPERM with the
 * reason and the fix in err. st: the file's fstat. */
struct stat;
int tls_secret_mode_check(const char *path, const struct stat *st, char *err,
			  size_t errlen);

/* mkdir -p: create `dir` and its missing parents with `mode`. 0 or -errno. */
int tls_mkdir_p(const char *dir, mode_t mode);

/* "[" + first 5 base64 chars + "]": derper's short form of a key for logs. */
void tls_key_short(const uint8_t key[DERP_KEY_LEN], char out[8]);

/* 64 lowercase hex digits. */
void tls_key_hex(const uint8_t key[DERP_KEY_LEN], char out[65]);

/* Parse 64 hex digits (either case); 0 or -EINVAL. */
int tls_key_from_hex(const char *hex, size_t len, uint8_t key[DERP_KEY_LEN]);

/* n bytes from 2n hex digits (either case); -EINVAL on a non-digit. */
int tls_hex_decode(const char *hex, size_t n, uint8_t *out);

#endif /* DERPER_TLS_KEYFILE_H */
