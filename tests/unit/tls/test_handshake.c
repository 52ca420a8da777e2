/* SPDX-License-Identifier: BSD-3-Clause */
/* The boxes of the DERP handshake against libsodium's own calls, as a
 * Go client (golang.org/x/crypto/nacl/box) produces them. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "tests/lib/harness.h"
#include "tls/handshake.h"

static void
test_seal_open_roundtrip(void)
{
	uint8_t spriv[32], spub[32], cpriv[32], cpub[32];
	const char msg[] = "{\"version\":2,\"CanAckPings\":true}";
	uint8_t box[sizeof(msg) + 40], out[sizeof(msg)];

	CU_ASSERT_EQUAL_FATAL(tls_crypto_init(), 0);
	tls_key_generate(spriv);
	tls_key_public(spriv, spub);
	crypto_box_keypair(cpub, cpriv);
	/* client side with libsodium directly: nonce | MAC | ciphertext */
	randombytes_buf(box, 24);
	CU_ASSERT_EQUAL(crypto_box_easy(box + 24, (const uint8_t *)msg, sizeof(msg) - 1, box,
					spub, cpriv), 0);
	CU_ASSERT_EQUAL(tls_box_open(spriv, cpub, box, sizeof(msg) - 1 + 40, out),
			(int)sizeof(msg) - 1);
	CU_ASSERT(memcmp(out, msg, sizeof(msg) - 1) == 0);
	/* a flipped bit is refused */
	box[30] ^= 1;
	CU_ASSERT_EQUAL(tls_box_open(spriv, cpub, box, sizeof(msg) - 1 + 40, out), -EBADMSG);
	CU_ASSERT_EQUAL(tls_box_open(spriv, cpub, box, 39, out), -EBADMSG);
	/* server seals, client opens with libsodium */
	tls_box_seal(spriv, cpub, (const uint8_t *)"{\"version\":2}", 13, box);
	CU_ASSERT_EQUAL(crypto_box_open_easy(out, box + 24, 13 + 16, box, spub, cpriv), 0);
	CU_ASSERT(memcmp(out, "{\"version\":2}", 13) == 0);
}

static void
test_keys(void)
{
	uint8_t z[32] = {0}, a[32];

	CU_ASSERT(tls_key_is_zero(z));
	tls_key_generate(a);
	CU_ASSERT(!tls_key_is_zero(a));
	tls_key_wipe(a, sizeof(a));
	CU_ASSERT(tls_key_is_zero(a));
}

static CU_TestInfo tests[] = {
	{"seal/open against libsodium", test_seal_open_roundtrip},
	{"keys", test_keys},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/handshake", tests)
