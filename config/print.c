/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "config/errors.h"
#include "config/merge.h"
#include "config/print.h"
#include "config/schema.h"

enum { VALUE_LEN = CFG_LIST_MAX * (CFG_ITEM_LEN + 4) + 8 };

/* Group prefix of a key ("" for top-level keys), into buf. */
static const char *
group_of(const struct cfg_key *k, char *buf, size_t len)
{
	const char *dot = strchr(k->name, '.');
	size_t n = dot ? (size_t)(dot - k->name) : 0;

	snprintf(buf, len, "%.*s", (int)n, k->name);
	return buf;
}

static void
describe(FILE *out, const struct cfg_key *k, const char *indent)
{
	bool sep = false;

	fprintf(out, "%s# %s\n%s# ", indent, k->help, indent);
	if (k->type == CFG_T_INT || k->type == CFG_T_DOUBLE) {
		fprintf(out, "range %" PRId64 "..%" PRId64, k->min, k->max);
		sep = true;
	}
	if (k->type == CFG_T_ENUM) {
		fprintf(out, "one of");
		for (int i = 0; k->choices[i]; i++)
			fprintf(out, "%s %s", i ? " |" : "", k->choices[i]);
		sep = true;
	}
	if (k->flag) {
		fprintf(out, "%sflag -%s", sep ? "; " : "", k->flag);
		sep = true;
	}
	if (k->env) {
		fprintf(out, "%senv %s", sep ? "; " : "", k->env);
		sep = true;
	}
	fprintf(out, "%s%s\n", sep ? "; " : "",
		(k->flags & CFG_F_RELOADABLE) ? "reloadable (SIGHUP)"
					      : "needs a restart");
}

static void
print_ports(FILE *out, const struct derper_config *cfg, bool example)
{
	char value[VALUE_LEN], origin[CFG_PATH_LEN + 16];

	if (example) {
		fprintf(out, "  ports = ();\n"
			     "  # ports = ( { device = \"net_af_xdp0,iface=eth1\"; mode = \"shared\"; address = \"198.18.0.1/24\"; } );\n");
		for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
			const struct cfg_key *k = cfg_schema_key(i);

			if (!(k->flags & CFG_F_PORT))
				continue;
			fprintf(out, "  #   %s:", strrchr(k->name, '.') + 1);
			fprintf(out, " %s", k->help);
			if (k->type == CFG_T_ENUM)
				fprintf(out, " (default \"%s\")", k->def);
			fprintf(out, "\n");
		}
		return;
	}
	fprintf(out, "  ports = (");
	for (unsigned int p = 0; p < cfg->dataplane.nb_ports; p++) {
		fprintf(out, "\n    {");
		for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
			const struct cfg_key *k = cfg_schema_key(i);

			if (!(k->flags & CFG_F_PORT))
				continue;
			cfg_value_format(k,
					 (const char *)&cfg->dataplane.ports[p] +
						 k->offset,
					 true, value, sizeof(value));
			fprintf(out, " %s = %s;", strrchr(k->name, '.') + 1,
				value);
		}
		fprintf(out, " }%s  # %s",
			p + 1 < cfg->dataplane.nb_ports ? "," : "",
			cfg_origin_format(&cfg->dataplane.port_origin[p],
					  cfg->source_path, origin,
					  sizeof(origin)));
	}
	fprintf(out, "%s);\n", cfg->dataplane.nb_ports ? "\n  " : " ");
}

static void
render(FILE *out, const struct derper_config *cfg, bool example)
{
	char group[64], prev[64] = "", value[VALUE_LEN];
	char origin[CFG_PATH_LEN + 16];

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		const char *indent;
		const char *leaf;

		if (k->flags & CFG_F_PORT)
			continue;
		group_of(k, group, sizeof(group));
		if (strcmp(group, prev) != 0) {
			if (*prev)
				fprintf(out, "};\n");
			fprintf(out, "\n");
			if (*group)
				fprintf(out, "%s: {\n", group);
			snprintf(prev, sizeof(prev), "%s", group);
		}
		indent = *group ? "  " : "";
		leaf = *group ? k->name + strlen(group) + 1 : k->name;
		if (example)
			describe(out, k, indent);
		if (k->type == CFG_T_PORTS) {
			print_ports(out, cfg, example);
			continue;
		}
		if (example && k->example) {
			fprintf(out, "%s# default \"%s\"\n", indent, k->def);
			snprintf(value, sizeof(value), "\"%s\"", k->example);
		} else {
			cfg_value_format(k, (const char *)cfg + k->offset, !example,
					 value, sizeof(value));
		}
		fprintf(out, "%s%s = %s;", indent, leaf, value);
		if (!example)
			fprintf(out, "  # %s",
				cfg_origin_format(&cfg->origin[i],
						  cfg->source_path, origin,
						  sizeof(origin)));
		fprintf(out, "\n");
	}
	if (*prev)
		fprintf(out, "};\n");
}

void
cfg_print(FILE *out, const struct derper_config *cfg)
{
	fprintf(out, "# effective configuration%s%s (credentials in URLs redacted)\n",
		*cfg->source_path ? " from " : "", cfg->source_path);
	render(out, cfg, false);
}

void
cfg_print_example(FILE *out)
{
	static struct derper_config defaults;

	cfg_defaults(&defaults);
	fprintf(out,
		"# derper.conf: the configuration of derper-dpdk (libconfig syntax).\n"
		"#\n"
		"# Generated from the key table in config/schema.c by\n"
		"#   derper --print-example > config/derper.conf.example\n"
		"# Every key is shown with its default value (hostname with an example, as it\n"
		"# has none). Precedence, highest first:\n"
		"# command-line flags, DERP_* environment variables, this file, defaults.\n"
		"# Unknown keys are errors. `derper --check-config --config FILE` checks a file.\n"
		"# Integers beyond 32 bits need an L suffix (libconfig): 10000000000L.\n");
	render(out, &defaults, true);
}

void
cfg_print_help(FILE *out, const char *argv0)
{
	fprintf(out,
		"usage: %s [--config FILE] [derper flags] [--set key=value]...\n"
		"\n"
		"derper-dpdk: a Tailscale DERP relay and STUN server on DPDK.\n"
		"\n"
		"options:\n"
		"  --config FILE     derper.conf to read (default %s when present)\n"
		"  --check-config    validate the configuration and exit (0 when valid)\n"
		"  --print-config    print the effective configuration and exit\n"
		"  --print-example   print a documented derper.conf with every key\n"
		"  --set KEY=VALUE   set any key, as in --set dataplane.lcores=2\n"
		"  --version         print the version and exit\n"
		"  --help            this text\n"
		"\n"
		"derper flags (Go syntax: -flag value, -flag=value, booleans -flag or -flag=false):\n",
		argv0, CFG_DEFAULT_PATH);
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);

		if (k->flag)
			fprintf(out, "  -%-28s %s%s%s\n", k->flag, k->name,
				k->env ? ", env " : "", k->env ? k->env : "");
	}
	fprintf(out, "\nkeys of derper.conf (default; description):\n");
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);

		fprintf(out, "  %-30s %s%s%s; %s\n", k->name,
			k->type == CFG_T_STRING || k->type == CFG_T_ENUM ? "\"" : "",
			k->type == CFG_T_PORTS ? "()" : k->def,
			k->type == CFG_T_STRING || k->type == CFG_T_ENUM ? "\"" : "",
			k->help);
	}
}
