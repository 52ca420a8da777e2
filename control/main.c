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
#include <string.h>

#include "config/flags.h"
#include "config/merge.h"
#include "config/print.h"
#include "control/lifecycle.h"
#include "base/log.h"

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

static struct cfg_cli cli;
static const struct cfg_build_opts opts = {
	.default_path = CFG_DEFAULT_PATH,
	.getenv_fn = env_get,
	.host_checks = true,
};

/* SIGHUP: the same sources again; the errors, joined, in why. */
static int
rebuild(struct derper_config *out, char *why, size_t n)
{
	static struct cfg_errors errs;
	size_t o = 0;

	/* the host was checked at start; what could fail now (CPUs taken by
	 * the lcores, files) belongs to keys a reload cannot change */
	struct cfg_build_opts o2 = opts;

	o2.host_checks = false;
	memset(&errs, 0, sizeof(errs));
	if (cfg_build(&cli, &o2, out, &errs) == 0)
		return 0;
	why[0] = '\0';
	for (unsigned int i = 0; i < errs.n && o < n; i++)
		o += (size_t)snprintf(why + o, n - o, "%s%s", i ? "; " : "", errs.msg[i]);
	for (char *c = why; *c; c++)
		if (*c == '"')
			*c = '\'';	/* it goes into a log value */
	return -1;
}

int
main(int argc, char **argv)
{
	static struct derper_config cfg;
	static struct cfg_errors errs;

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
	log_set_level((int)cfg.log.level);
	return ctl_run(&cfg, rebuild) ? 1 : 0;
}
