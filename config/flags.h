/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command line and environment: derper's own flags (Go flag syntax: -name,
 * --name, -name=value, -name value for non-booleans), the DERP_* variables
 * of the popular derper container images, and our options
 * (--config, --check-config, --print-config, --print-example,
 * --set key=value, --help, --version).
 */
#ifndef DERPER_CONFIG_FLAGS_H
#define DERPER_CONFIG_FLAGS_H

#include <stdbool.h>

#include "config/config.h"
#include "config/errors.h"

enum cfg_action {
	CFG_ACTION_RUN,
	CFG_ACTION_CHECK,	/* --check-config: validate and exit */
	CFG_ACTION_PRINT,	/* --print-config: print merged config, exit */
	CFG_ACTION_EXAMPLE,	/* --print-example: documented defaults */
	CFG_ACTION_HELP,
	CFG_ACTION_VERSION,
};

enum { CFG_CLI_MAX = 128 };

/* One key set on the command line, applied after file and environment. */
struct cfg_assign {
	int key;		/* index in the key table */
	const char *value;	/* points into argv */
	char name[64];		/* "-stun-port", "--set stun.port" */
	bool duration;		/* derper flag that takes a Go duration */
};

struct cfg_cli {
	enum cfg_action action;
	const char *config_path;	/* --config, or NULL */
	unsigned int n;
	struct cfg_assign a[CFG_CLI_MAX];
};

/* Reads an environment variable; getenv in production, a table in tests. */
typedef const char *(*cfg_getenv_fn)(const char *name);

/*
 * Parse argv. Unknown flags (with a hint), derper flags we do not support
 * (with the reason), missing values and stray arguments are recorded in
 * errs. Values are checked later, when applied. Returns 0 or -EINVAL.
 */
int cfg_cli_parse(int argc, char *const argv[], struct cfg_cli *cli,
		  struct cfg_errors *errs);

/*
 * Apply the DERP_* variables that are set and non-empty (an image that
 * exports DERP_VERIFY_CLIENT_URL="" leaves the file's value alone).
 * Returns 0 or -EINVAL.
 */
int cfg_env_apply(struct derper_config *cfg, cfg_getenv_fn getenv_fn,
		  struct cfg_errors *errs);

/* Apply the flag assignments of cli, in command-line order. */
int cfg_flags_apply(struct derper_config *cfg, const struct cfg_cli *cli,
		    struct cfg_errors *errs);

#endif /* DERPER_CONFIG_FLAGS_H */
