/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NaCl side of the DERP handshake (docs/protocol.md §2.2, §5.3): node
 * keys and the crypto_box seal/open of ClientInfo and ServerInfo. The only
 * file that includes sodium.h. Keys never leave tls/; callers wipe private
 * keys with tls_key_wipe().
 */
#ifndef DERPER_TLS_HANDSHAKE_H
#define DERPER_TLS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/derp_wire.h"

/* libsodium initialisation; 0 or -EIO. Idempotent, any thread. */
int tls_crypto_init(void);

/* A fresh node key, clamped as Tailscale's key.NewNode(). */
void tls_key_generate(uint8_t priv[DERP_KEY_LEN]);

/* Public key of a private node key. */
void tls_key_public(const uint8_t priv[DERP_KEY_LEN],
		    uint8_t pub[DERP_KEY_LEN]);

bool tls_key_is_zero(const uint8_t key[DERP_KEY_LEN]);

void tls_key_wipe(void *p, size_t len);

/*
 * Open `in` = nonce(24) | MAC(16) | ciphertext, sealed by `peer_pub` to
 * our `priv`. Writes len - 40 bytes to out. Returns the plaintext length
 * or -EBADMSG (too short, or forged).
 */
int tls_box_open(const uint8_t priv[DERP_KEY_LEN],
		 const uint8_t peer_pub[DERP_KEY_LEN], const uint8_t *in,
		 size_t len, uint8_t *out);

/* Seal `msg` to `peer_pub` from `priv` with a random nonce: writes
 * len + 40 bytes (nonce | MAC | ciphertext) to out. */
void tls_box_seal(const uint8_t priv[DERP_KEY_LEN],
		  const uint8_t peer_pub[DERP_KEY_LEN], const uint8_t *msg,
		  size_t len, uint8_t *out);

/* Random bytes (keepalive jitter, nonces elsewhere). */
void tls_random(void *buf, size_t len);

#endif /* DERPER_TLS_HANDSHAKE_H */
