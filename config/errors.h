/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration diagnostics. Loading collects every problem it finds
 * instead of stopping at the first, so an operator fixes a file in one go.
 * Each message starts with where the value came from:
 *
 *   derper.conf:12: stun.port: 70000 is out of range 1..65535
 *   env DERP_STUN_PORT: stun.port: "x" is not an integer
 *   flag -a: listen: "1.2.3.4" has no port
 */
#ifndef DERPER_CONFIG_ERRORS_H
#define DERPER_CONFIG_ERRORS_H

#include <stddef.h>

#include "config/config.h"

enum { CFG_ERRORS_MAX = 32, CFG_ERROR_LEN = 512 };

struct cfg_errors {
	unsigned int n;		/* messages stored */
	unsigned int dropped;	/* messages beyond CFG_ERRORS_MAX */
	char msg[CFG_ERRORS_MAX][CFG_ERROR_LEN];
};

/*
 * Record "<where>: <key>: <text>". `file` names the configuration file
 * for CFG_SRC_FILE origins; `key` may be NULL for errors that concern no
 * key (a syntax error, an unknown flag).
 */
void cfg_error_add(struct cfg_errors *errs, const struct cfg_origin *where,
		   const char *file, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Format an origin as "derper.conf:12", "env DERP_X", "flag -a", "default". */
const char *cfg_origin_format(const struct cfg_origin *o, const char *file,
			      char *buf, size_t len);

#endif /* DERPER_CONFIG_ERRORS_H */
