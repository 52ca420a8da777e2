/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS-layer functions for tests and fuzz targets only (tests/unit/tls,
 * tests/fuzz). Production code outside the defining files never includes
 * this header.
 */
#ifndef DERPER_TLS_TEST_HOOKS_H
#define DERPER_TLS_TEST_HOOKS_H

#include <stddef.h>
#include <stdint.h>

struct tls13_engine;
struct tls13_rec;

/* One record around an already built TLSInnerPlaintext (content, type,
 * padding). Its size; 0 if too long (tls/record.c). */
size_t tls13_seal_inner(struct tls13_engine *e, struct tls13_rec *rec,
			const uint8_t *inner, size_t len, uint8_t *out);

/* jansson's free function once a key file has been parsed: wipes the
 * whole block (malloc_usable_size) before free() (tls/keyfile.c). */
void tls_json_wipe_free(void *p);

#endif /* DERPER_TLS_TEST_HOOKS_H */
