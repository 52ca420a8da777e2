/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/load.h"
#include "config/merge.h"
#include "config/schema.h"
#include "config/validate.h"

void
cfg_defaults(struct derper_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		char err[CFG_ERROR_LEN];

		/* Port fields get their defaults per entry (load.c). */
		if ((k->flags & CFG_F_PORT) || k->type == CFG_T_PORTS)
			continue;
		/* The table's defaults are tested to parse (test_schema.c). */
		cfg_value_parse(k, k->def, false,
				cfg_schema_field(k, cfg, NULL), err,
				sizeof(err));
	}
}

/* derper -dev: plain HTTP on :3340 whatever -a says. */
static void
apply_dev(struct derper_config *cfg)
{
	int idx = cfg_schema_find("listen");

	if (!cfg->dev)
		return;
	snprintf(cfg->listen, sizeof(cfg->listen), ":3340");
	cfg->origin[idx] = cfg->origin[cfg_schema_find("dev")];
}

int
cfg_build(const struct cfg_cli *cli, const struct cfg_build_opts *opts,
	  struct derper_config *out, struct cfg_errors *errs)
{
	const char *path = cli->config_path;
	int rc = 0;

	cfg_defaults(out);
	if (!path && opts->default_path && access(opts->default_path, F_OK) == 0)
		path = opts->default_path;
	if (path && cfg_file_apply(out, path, NULL, errs))
		rc = -EINVAL;
	if (opts->getenv_fn && cfg_env_apply(out, opts->getenv_fn, errs))
		rc = -EINVAL;
	if (cfg_flags_apply(out, cli, errs))
		rc = -EINVAL;
	apply_dev(out);
	/* Cross-field checks on a half-applied config only add noise. */
	if (rc)
		return rc;
	if (cfg_validate(out, errs))
		rc = -EINVAL;
	if (opts->host_checks && cfg_validate_host(out, errs))
		rc = -EINVAL;
	return rc;
}
