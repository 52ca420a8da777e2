/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <sodium.h>

#include "base/keyed_hash.h"
#include "tests/lib/harness.h"

/* SipHash-2-4 agrees with libsodium's crypto_shorthash (the same function)
 * for every length up to 64 bytes, on the reference key and random ones. */
static void
test_matches_libsodium(void)
{
	uint8_t key[16], msg[64], ref[8];

	CU_ASSERT_FATAL(sodium_init() >= 0);
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (int round = 0; round < 100; round++) {
		for (size_t len = 0; len <= sizeof(msg); len++) {
			uint64_t ours = siphash24(key, msg, len), theirs;

			crypto_shorthash(ref, msg, len, key);
			memcpy(&theirs, ref, 8);	/* little-endian output */
			CU_ASSERT_EQUAL(ours, theirs);
		}
		randombytes_buf(key, sizeof(key));
		randombytes_buf(msg, sizeof(msg));
	}
	/* the paper's vector: key 00..0f, message 00..0e */
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
}

/* The process's key is drawn, not left zero. */
static void
test_process_key(void)
{
	static const uint8_t zero[16];
	uint8_t k[32] = {1};

	CU_ASSERT(memcmp(keyed_hash_key(), zero, 16) != 0);
	CU_ASSERT_EQUAL(keyed_hash32(k), siphash24(keyed_hash_key(), k, 32));
}

static CU_TestInfo tests[] = {
	{"SipHash-2-4 as libsodium computes it", test_matches_libsodium},
	{"the process key", test_process_key},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("base/keyed_hash", tests)
