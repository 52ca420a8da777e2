/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper.conf (libconfig syntax) -> struct derper_config. This is the only
 * file that includes libconfig.h.
 */
#ifndef DERPER_CONFIG_LOAD_H
#define DERPER_CONFIG_LOAD_H

#include "config/config.h"
#include "config/errors.h"

/*
 * Apply the settings of a configuration file on top of `cfg` (which holds
 * the defaults). `path` names the file in messages; when `text` is
 * non-NULL it is parsed instead of reading `path` (tests, fuzzing).
 * Unknown keys, type errors, out-of-range values and syntax errors are
 * added to `errs` with file:line. Returns 0 or -EINVAL (errors recorded)
 * or -errno when the file cannot be read (error recorded).
 */
int cfg_file_apply(struct derper_config *cfg, const char *path,
		   const char *text, struct cfg_errors *errs);

#endif /* DERPER_CONFIG_LOAD_H */
