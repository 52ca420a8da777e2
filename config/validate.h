/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cross-field checks, run once every source has been applied. Single
 * values were already checked against their bounds when parsed.
 */
#ifndef DERPER_CONFIG_VALIDATE_H
#define DERPER_CONFIG_VALIDATE_H

#include <stdbool.h>

#include "config/config.h"
#include "config/errors.h"

/*
 * derper's rule (§10.4 of the protocol notes): TLS on port 443 or with
 * cert.mode manual; we also always serve TLS in selfsigned mode.
 */
bool cfg_serves_tls(const struct derper_config *cfg);

/*
 * Checks that need nothing but the struct: address syntax, enumerations
 * of free-form strings, keys that require other keys. Errors are reported
 * at the origin of the key at fault. Returns 0 or -EINVAL.
 */
int cfg_validate(const struct derper_config *cfg, struct cfg_errors *errs);

/*
 * Checks against this machine: dataplane lcores exist and leave a CPU for
 * the control and TLS threads; manual-mode certificate files exist.
 * Returns 0 or -EINVAL.
 */
int cfg_validate_host(const struct derper_config *cfg,
		      struct cfg_errors *errs);

#endif /* DERPER_CONFIG_VALIDATE_H */
