/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "tls/handshake.h"

int
tls_crypto_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void
tls_key_generate(uint8_t priv[DERP_KEY_LEN])
{
	randombytes_buf(priv, DERP_KEY_LEN);
	priv[0] &= 248;
	priv[31] = (uint8_t)((priv[31] & 127) | 64);
}

void
tls_key_public(const uint8_t priv[DERP_KEY_LEN], uint8_t pub[DERP_KEY_LEN])
{
	crypto_scalarmult_base(pub, priv);
}

bool
tls_key_is_zero(const uint8_t key[DERP_KEY_LEN])
{
	return sodium_is_zero(key, DERP_KEY_LEN) == 1;
}

void
tls_key_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

int
tls_box_open(const uint8_t priv[DERP_KEY_LEN],
	     const uint8_t peer_pub[DERP_KEY_LEN], const uint8_t *in,
	     size_t len, uint8_t *out)
{
	if (len < crypto_box_NONCEBYTES + crypto_box_MACBYTES)
		return -EBADMSG;
	if (crypto_box_open_easy(out, in + crypto_box_NONCEBYTES,
				 len - crypto_box_NONCEBYTES, in, peer_pub,
				 priv) != 0)
		return -EBADMSG;
	return (int)(len - crypto_box_NONCEBYTES - crypto_box_MACBYTES);
}

void
tls_box_seal(const uint8_t priv[DERP_KEY_LEN],
	     const uint8_t peer_pub[DERP_KEY_LEN], const uint8_t *msg,
	     size_t len, uint8_t *out)
{
	randombytes_buf(out, crypto_box_NONCEBYTES);
	/* fails only for a key that is a low-order point: such a client
	 * cannot open anything anyway, so the frame is just useless */
	if (crypto_box_easy(out + crypto_box_NONCEBYTES, msg, len, out,
			    peer_pub, priv) != 0)
		memset(out + crypto_box_NONCEBYTES, 0,
		       len + crypto_box_MACBYTES);
}

void
tls_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}
