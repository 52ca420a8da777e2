/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper: entry point. Parse the command line, build the configuration
 * snapshot (defaults < derper.conf < DERP_* < flags), then either answer
 * an action (--help, --version, --check-config, --print-config,
 * --print-example) or run the relay (control/lifecycle.c).
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage or configuration
 * error. Only control/ exits the process.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config/flags.h"
#include "config/merge.h"
#include "config/print.h"
#include "control/lifecycle.h"
#include "control/log.h"

/* getenv with the const signature the config code takes */
static const char *
env_get(const char *name)
{
	return getenv(name);
}

static void
print_errors(const struct cfg_errors *errs)
{
	for (unsigned int i = 0; i < errs->n; i++)
		fprintf(stderr, "derper: %s\n", errs->msg[i]);
	if (errs->dropped)
		fprintf(stderr, "derper: ... and %u more errors\n", errs->dropped);
}

int
main(int argc, char **argv)
{
	static struct derper_config cfg;
	static struct cfg_errors errs;
	static struct cfg_cli cli;
	struct cfg_build_opts opts = {
		.default_path = CFG_DEFAULT_PATH,
		.getenv_fn = env_get,
		.host_checks = true,
	};

	if (cfg_cli_parse(argc, argv, &cli, &errs)) {
		print_errors(&errs);
		fprintf(stderr, "derper: see %s --help\n", argv[0]);
		return 2;
	}
	switch (cli.action) {
	case CFG_ACTION_HELP:
		cfg_print_help(stdout, argv[0]);
		return 0;
	case CFG_ACTION_VERSION:
		ctl_print_version(stdout);
		return 0;
	case CFG_ACTION_EXAMPLE:
		cfg_print_example(stdout);
		return 0;
	default:
		break;
	}
	if (cfg_build(&cli, &opts, &cfg, &errs)) {
		print_errors(&errs);
		fprintf(stderr, "derper: configuration refused%s%s\n",
			*cfg.source_path ? ": " : "", cfg.source_path);
		return 2;
	}
	switch (cli.action) {
	case CFG_ACTION_CHECK:
		printf("derper: configuration OK%s%s\n",
		       *cfg.source_path ? ": " : "", cfg.source_path);
		return 0;
	case CFG_ACTION_PRINT:
		cfg_print(stdout, &cfg);
		return 0;
	default:
		break;
	}
	ctl_log_set_level((int)cfg.log.level);
	return ctl_run(&cfg) ? 1 : 0;
}
