/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building one configuration snapshot: defaults < derper.conf < DERP_*
 * environment < command-line flags, then validation.
 */
#ifndef DERPER_CONFIG_MERGE_H
#define DERPER_CONFIG_MERGE_H

#include <stdbool.h>

#include "config/config.h"
#include "config/errors.h"
#include "config/flags.h"

/* The file read when --config is not given, if it exists. */
#define CFG_DEFAULT_PATH "/etc/derper/derper.conf"

struct cfg_build_opts {
	const char *default_path;	/* NULL: no implicit file */
	cfg_getenv_fn getenv_fn;	/* NULL: environment ignored */
	bool host_checks;		/* also run cfg_validate_host() */
};

/* Fill cfg with every key's default. */
void cfg_defaults(struct derper_config *cfg);

/*
 * Build and validate a snapshot into `out` (caller-allocated; it is large).
 * Every problem is recorded in errs. Returns 0 or -EINVAL.
 */
int cfg_build(const struct cfg_cli *cli, const struct cfg_build_opts *opts,
	      struct derper_config *out, struct cfg_errors *errs);

#endif /* DERPER_CONFIG_MERGE_H */
