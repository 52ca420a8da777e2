/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request bodies for ACME and the admission webhook, built with jansson's
 * json_pack so that every string is escaped (an operator's contact email,
 * a hostname) and the key order is stable (sorted: RFC 7638 thumbprints
 * need crv, kty, x, y in that order).
 */
#ifndef DERPER_CONTROL_JSON_BODY_H
#define DERPER_CONTROL_JSON_BODY_H

#include <stddef.h>

/* json_pack(fmt, ...) written compactly into out with a terminating NUL.
 * Returns the length, 0 when fmt fails or the text does not fit. Any
 * thread. */
size_t ctl_json_pack(char *out, size_t outlen, const char *fmt, ...);

#endif /* DERPER_CONTROL_JSON_BODY_H */
