/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012) with a key drawn once per
 * process: the hash of tables indexed by what a client chooses (node keys,
 * in tls/heard.c and the dataplane's session table), so nobody can craft
 * keys that pile into one bucket without knowing the key. Pure but for the
 * key, drawn from getrandom() before main().
 */
#ifndef DERPER_BASE_KEYED_HASH_H
#define DERPER_BASE_KEYED_HASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of msg under a 16-byte key (libsodium's crypto_shorthash). */
uint64_t siphash24(const uint8_t key[16], const void *msg, size_t len);

/* The process's 16-byte hash key. Any thread. */
const uint8_t *keyed_hash_key(void);

/* SipHash-2-4 of a 32-byte node key under the process's key. */
static inline uint64_t
keyed_hash32(const uint8_t k[32])
{
	return siphash24(keyed_hash_key(), k, 32);
}

#endif /* DERPER_BASE_KEYED_HASH_H */
