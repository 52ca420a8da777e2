/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/flags.h"
#include "config/schema.h"

/*
 * derper flags that exist but that this relay does not implement. They are
 * refused, not ignored: silently dropping an operator's intent is worse.
 */
static const struct {
	const char *flag;
	const char *why;
} unsupported[] = {
	{"bootstrap-dns-names", "/bootstrap-dns is not served"},
	{"unpublished-bootstrap-dns-names", "/bootstrap-dns is not served"},
	{"secrets-url", "setec is not supported; use mesh.psk_file"},
	{"secrets-path-prefix", "setec is not supported; use mesh.psk_file"},
	{"secrets-cache-dir", "setec is not supported; use mesh.psk_file"},
	{"ace", "the experimental ACE CONNECT proxy is not supported"},
	{"acme-eab-kid", "certmode gcp is not supported"},
	{"acme-eab-key", "certmode gcp is not supported"},
	{"acme-ip-certs", "ACME IP certificates are not supported; use cert.mode = \"manual\" or \"selfsigned\" for an IP"},
	{"rate-config", "use limits.client_bytes_per_sec and limits.client_burst_bytes"},
	{"mbps", "use limits.client_bytes_per_sec"},
	{"logcollection", "logtail is not supported; logs go to stderr"},
};

static int
flag_key(const char *flag)
{
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);

		if (k->flag && strcmp(k->flag, flag) == 0)
			return (int)i;
	}
	return -1;
}

/* Cheap hint for a mistyped flag: one sharing its first 4 characters. */
static const char *
suggest_flag(const char *flag)
{
	static const char *const ours[] = {"config", "check-config",
					   "print-config", "print-example",
					   "set", "help",
					   "version"};

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);

		if (k->flag && strlen(k->flag) >= 4 &&
		    strncmp(k->flag, flag, 4) == 0)
			return k->flag;
	}
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (strncmp(ours[i], flag, 4) == 0)
			return ours[i];
	return NULL;
}

static void
flag_error(struct cfg_errors *errs, const char *dashes, const char *name,
	   const char *fmt, const char *arg)
{
	struct cfg_origin o = {.source = CFG_SRC_FLAG};

	snprintf(o.name, sizeof(o.name), "%s%s", dashes, name);
	cfg_error_add(errs, &o, NULL, NULL, fmt, arg);
}

static int
add_assign(struct cfg_cli *cli, int key, const char *value, const char *name,
	   bool duration, struct cfg_errors *errs)
{
	struct cfg_assign *a;

	if (cli->n >= CFG_CLI_MAX) {
		flag_error(errs, "", name, "%s", "too many flags");
		return -EINVAL;
	}
	a = &cli->a[cli->n++];
	a->key = key;
	a->value = value;
	a->duration = duration;
	snprintf(a->name, sizeof(a->name), "%s", name);
	return 0;
}

/* --set key=value */
static int
parse_set(struct cfg_cli *cli, const char *kv, struct cfg_errors *errs)
{
	const char *eq = strchr(kv, '=');
	char key[CFG_ITEM_LEN];
	char name[64];
	const char *hint;
	int idx;

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		flag_error(errs, "--", "set", "\"%s\" is not key=value", kv);
		return -EINVAL;
	}
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	idx = cfg_schema_find(key);
	if (idx < 0 || (cfg_schema_key((unsigned int)idx)->flags & CFG_F_PORT) ||
	    cfg_schema_key((unsigned int)idx)->type == CFG_T_PORTS) {
		hint = cfg_schema_suggest(key);
		if (idx >= 0)
			flag_error(errs, "--", "set",
				   "%s can only be set in derper.conf", key);
		else if (hint)
			flag_error(errs, "--", "set",
				   "unknown key (did you mean %s?)", hint);
		else
			flag_error(errs, "--", "set", "unknown key %s", key);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "--set %.50s", key);
	return add_assign(cli, idx, eq + 1, name, false, errs);
}

/* Options of ours that take a value: --config and --set. */
static int
parse_valued(struct cfg_cli *cli, const char *name, const char *value,
	     struct cfg_errors *errs)
{
	if (strcmp(name, "config") == 0) {
		cli->config_path = value;
		return 0;
	}
	return parse_set(cli, value, errs);
}

static bool
is_action(const char *name, struct cfg_cli *cli)
{
	static const struct {
		const char *name;
		enum cfg_action action;
	} actions[] = {
		{"check-config", CFG_ACTION_CHECK},
		{"print-config", CFG_ACTION_PRINT},
		{"print-example", CFG_ACTION_EXAMPLE},
		{"help", CFG_ACTION_HELP},
		{"h", CFG_ACTION_HELP},
		{"version", CFG_ACTION_VERSION},
	};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(name, actions[i].name) == 0) {
			/* help and version win over the others */
			if (cli->action == CFG_ACTION_RUN ||
			    actions[i].action >= CFG_ACTION_HELP)
				cli->action = actions[i].action;
			return true;
		}
	}
	return false;
}

int
cfg_cli_parse(int argc, char *const argv[], struct cfg_cli *cli,
	      struct cfg_errors *errs)
{
	int rc = 0;

	memset(cli, 0, sizeof(*cli));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *dashes = arg[1] == '-' ? "--" : "-";
		char name[64];
		const char *value = NULL;
		const char *eq;
		size_t len;
		int key;

		if (strcmp(arg, "--") == 0) {
			if (i + 1 < argc) {
				flag_error(errs, "", argv[i + 1], "%s",
					   "unexpected argument");
				rc = -EINVAL;
			}
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			flag_error(errs, "", arg, "%s",
				   "unexpected argument (boolean flags take -flag=value)");
			rc = -EINVAL;
			continue;
		}
		arg += strlen(dashes);
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		if (len == 0 || len >= sizeof(name) || arg[0] == '-') {
			flag_error(errs, "", argv[i], "%s", "bad flag syntax");
			rc = -EINVAL;
			continue;
		}
		memcpy(name, arg, len);
		name[len] = '\0';
		if (eq)
			value = eq + 1;

		if (!eq && is_action(name, cli))
			continue;
		if (strcmp(name, "config") == 0 || strcmp(name, "set") == 0) {
			if (!value) {
				if (i + 1 >= argc) {
					flag_error(errs, dashes, name, "%s",
						   "flag needs an argument");
					rc = -EINVAL;
					continue;
				}
				value = argv[++i];
			}
			if (parse_valued(cli, name, value, errs))
				rc = -EINVAL;
			continue;
		}
		key = flag_key(name);
		if (key < 0) {
			const char *hint = suggest_flag(name);
			size_t u;

			for (u = 0; u < sizeof(unsupported) / sizeof(unsupported[0]); u++)
				if (strcmp(unsupported[u].flag, name) == 0)
					break;
			if (u < sizeof(unsupported) / sizeof(unsupported[0]))
				flag_error(errs, dashes, name,
					   "not supported by derper-dpdk: %s",
					   unsupported[u].why);
			else if (hint)
				flag_error(errs, dashes, name,
					   "unknown flag (did you mean -%s?)",
					   hint);
			else
				flag_error(errs, dashes, name, "%s",
					   "unknown flag (see --help)");
			rc = -EINVAL;
			continue;
		}
		if (!value) {
			if (cfg_schema_key((unsigned int)key)->type == CFG_T_BOOL) {
				value = "true";
			} else if (i + 1 >= argc) {
				flag_error(errs, dashes, name, "%s",
					   "flag needs an argument");
				rc = -EINVAL;
				continue;
			} else {
				value = argv[++i];
			}
		}
		{
			char full[64];

			snprintf(full, sizeof(full), "%s%s", dashes, name);
			if (add_assign(cli, key, value, full, true, errs))
				rc = -EINVAL;
		}
	}
	return rc;
}

int
cfg_env_apply(struct derper_config *cfg, cfg_getenv_fn getenv_fn,
	      struct cfg_errors *errs)
{
	int rc = 0;

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		struct cfg_origin o = {.source = CFG_SRC_ENV};
		char err[CFG_ERROR_LEN];
		const char *v;

		if (!k->env)
			continue;
		v = getenv_fn(k->env);
		if (!v || !*v)
			continue;
		snprintf(o.name, sizeof(o.name), "%s", k->env);
		if (cfg_value_parse(k, v, false, cfg_schema_field(k, cfg, NULL),
				    err, sizeof(err))) {
			cfg_error_add(errs, &o, NULL, k->name, "%s", err);
			rc = -EINVAL;
			continue;
		}
		cfg->origin[i] = o;
	}
	return rc;
}

int
cfg_flags_apply(struct derper_config *cfg, const struct cfg_cli *cli,
		struct cfg_errors *errs)
{
	int rc = 0;

	for (unsigned int i = 0; i < cli->n; i++) {
		const struct cfg_assign *a = &cli->a[i];
		const struct cfg_key *k = cfg_schema_key((unsigned int)a->key);
		struct cfg_origin o = {.source = CFG_SRC_FLAG};
		char err[CFG_ERROR_LEN];

		snprintf(o.name, sizeof(o.name), "%s", a->name);
		if (cfg_value_parse(k, a->value, a->duration,
				    cfg_schema_field(k, cfg, NULL), err,
				    sizeof(err))) {
			cfg_error_add(errs, &o, NULL, k->name, "%s", err);
			rc = -EINVAL;
			continue;
		}
		cfg->origin[a->key] = o;
	}
	return rc;
}
