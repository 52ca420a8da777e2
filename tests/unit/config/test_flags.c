/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flags (derper's Go syntax), the DERP_* environment and their precedence:
 * flags > environment > derper.conf > defaults.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/flags.h"
#include "config/load.h"
#include "config/merge.h"
#include "config/schema.h"
#include "tests/lib/harness.h"

static struct derper_config *cfg;
static struct cfg_errors errs;
static struct cfg_cli cli;

/* A fake environment: NAME=value pairs. */
static const char *fake_env[32];

static const char *
env_get(const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; fake_env[i]; i++)
		if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
			return fake_env[i] + n + 1;
	return NULL;
}

static int
setup(void)
{
	cfg = calloc(1, sizeof(*cfg));
	return cfg ? 0 : 1;
}

static int
teardown(void)
{
	free(cfg);
	return 0;
}

/* argv from a NULL-terminated list; parse flags, then build without
 * validation problems counted (we test sources here, not cross-checks). */
static int
parse(const char *const *args)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = (char *)"derper";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	memset(&errs, 0, sizeof(errs));
	return cfg_cli_parse(argc, argv, &cli, &errs);
}

static int
merge(const char *file_text)
{
	int rc;

	cfg_defaults(cfg);
	rc = 0;
	if (file_text)
		rc |= cfg_file_apply(cfg, "f.conf", file_text, &errs);
	rc |= cfg_env_apply(cfg, env_get, &errs);
	rc |= cfg_flags_apply(cfg, &cli, &errs);
	return rc;
}

static void
test_go_flag_forms(void)
{
	const char *args[] = {"-hostname", "derp.example.com", "--a=:8443",
			      "-stun=false", "--derp", "-http-port=-1",
			      "-stun-port", "3479", NULL};

	CU_ASSERT_EQUAL_FATAL(parse(args), 0);
	CU_ASSERT_EQUAL(cli.action, CFG_ACTION_RUN);
	CU_ASSERT_EQUAL_FATAL(merge(NULL), 0);
	CU_ASSERT_STRING_EQUAL(cfg->hostname, "derp.example.com");
	CU_ASSERT_STRING_EQUAL(cfg->listen, ":8443");
	CU_ASSERT(!cfg->stun.enabled);
	CU_ASSERT(cfg->derp);
	CU_ASSERT_EQUAL(cfg->http_port, -1);
	CU_ASSERT_EQUAL(cfg->stun.port, 3479);
	CU_ASSERT_EQUAL(cfg->origin[cfg_schema_find("listen")].source, CFG_SRC_FLAG);
	CU_ASSERT_STRING_EQUAL(cfg->origin[cfg_schema_find("listen")].name, "--a");
}

static void
test_every_derper_flag(void)
{
	/* Every derper flag we map, with the key it sets. */
	static const struct {
		const char *arg, *key, *want;
	} cases[] = {
		{"-hostname=h.example.com", "hostname", "\"h.example.com\""},
		{"-a=:444", "listen", "\":444\""},
		{"-http-port=8080", "http_port", "8080"},
		{"-c=/k.json", "key_file", "\"/k.json\""},
		{"-derp=false", "derp", "false"},
		{"-home=blank", "home", "\"blank\""},
		{"-dev", "dev", "true"},
		{"-certmode=manual", "cert.mode", "\"manual\""},
		{"-certdir=/certs", "cert.dir", "\"/certs\""},
		{"-acme-email=a@b.c", "cert.acme_email", "\"a@b.c\""},
		{"-stun=false", "stun.enabled", "false"},
		{"-stun-port=1", "stun.port", "1"},
		{"-verify-clients", "verify.clients", "true"},
		{"-socket=/s.sock", "verify.socket", "\"/s.sock\""},
		{"-verify-client-url=http://h/v", "verify.url", "\"http://h/v\""},
		{"-verify-client-url-fail-open=false", "verify.url_fail_open", "false"},
		{"-mesh-psk-file=/psk", "mesh.psk_file", "\"/psk\""},
		{"-mesh-with=a,b/c", "mesh.peers", "[ \"a\", \"b/c\" ]"},
		{"-accept-connection-limit=5.5", "limits.accept_rate", "5.5"},
		{"-accept-connection-burst=7", "limits.accept_burst", "7"},
		{"-tcp-keepalive-time=1m", "limits.tcp_keepalive_s", "60"},
		{"-tcp-user-timeout=20s", "limits.tcp_user_timeout_s", "20"},
		{"-tcp-write-timeout=0", "limits.tcp_write_timeout_s", "0"},
	};
	unsigned int mapped = 0;
	char buf[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[] = {cases[i].arg, NULL};
		const struct cfg_key *k =
			cfg_schema_key((unsigned int)cfg_schema_find(cases[i].key));

		CU_ASSERT_EQUAL_FATAL(parse(args), 0);
		CU_ASSERT_EQUAL_FATAL(merge(NULL), 0);
		cfg_value_format(k, (char *)cfg + k->offset, false, buf, sizeof(buf));
		CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
	}
	/* ...and the table maps no flag this test forgot. */
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++)
		if (cfg_schema_key(i)->flag)
			mapped++;
	CU_ASSERT_EQUAL(mapped, sizeof(cases) / sizeof(cases[0]));
}

static void
test_flag_errors(void)
{
	const char *a1[] = {"-stun-port", NULL};
	const char *a2[] = {"-nosuch", NULL};
	const char *a3[] = {"-verify-clients", "true", NULL};
	const char *a4[] = {"-ace", NULL};
	const char *a5[] = {"-hostnam=x", NULL};
	const char *a6[] = {"---a=1", NULL};
	const char *a7[] = {"-stun-port=99999", NULL};

	CU_ASSERT_EQUAL(parse(a1), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0], "flag -stun-port: flag needs an argument");
	CU_ASSERT_EQUAL(parse(a2), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0], "flag -nosuch: unknown flag (see --help)");
	/* Go stops at "true" and derper silently ignores the rest: we refuse. */
	CU_ASSERT_EQUAL(parse(a3), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "flag true: unexpected argument (boolean flags take -flag=value)");
	CU_ASSERT_EQUAL(parse(a4), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "flag -ace: not supported by derper-dpdk: the experimental ACE CONNECT proxy is not supported");
	CU_ASSERT_EQUAL(parse(a5), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0], "flag -hostnam: unknown flag (did you mean -hostname?)");
	CU_ASSERT_EQUAL(parse(a6), -EINVAL);
	CU_ASSERT_EQUAL(parse(a7), 0);
	CU_ASSERT_EQUAL(merge(NULL), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "flag -stun-port: stun.port: 99999 is out of range 1..65535");
}

static void
test_our_options(void)
{
	const char *a1[] = {"--config", "/x.conf", "--check-config", NULL};
	const char *a2[] = {"--config=/y.conf", "--print-config", NULL};
	const char *a3[] = {"--check-config", "--version", NULL};
	const char *a4[] = {"--set", "dataplane.lcores=2-3", "--set=stun.tailscale_only=true", NULL};
	const char *a5[] = {"--set", "stun.prot=1", NULL};
	const char *a6[] = {"--set", "dataplane.ports.device=x", NULL};
	const char *a7[] = {"-h", NULL};
	const char *a8[] = {"--print-example", NULL};

	CU_ASSERT_EQUAL(parse(a1), 0);
	CU_ASSERT_STRING_EQUAL(cli.config_path, "/x.conf");
	CU_ASSERT_EQUAL(cli.action, CFG_ACTION_CHECK);
	CU_ASSERT_EQUAL(parse(a2), 0);
	CU_ASSERT_STRING_EQUAL(cli.config_path, "/y.conf");
	CU_ASSERT_EQUAL(cli.action, CFG_ACTION_PRINT);
	CU_ASSERT_EQUAL(parse(a3), 0);
	CU_ASSERT_EQUAL(cli.action, CFG_ACTION_VERSION);
	CU_ASSERT_EQUAL(parse(a4), 0);
	CU_ASSERT_EQUAL(merge(NULL), 0);
	CU_ASSERT_STRING_EQUAL(cfg->dataplane.lcores, "2-3");
	CU_ASSERT(cfg->stun.tailscale_only);
	CU_ASSERT_STRING_EQUAL(cfg->origin[cfg_schema_find("dataplane.lcores")].name,
			       "--set dataplane.lcores");
	CU_ASSERT_EQUAL(parse(a5), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0], "flag --set: unknown key (did you mean stun.port?)");
	CU_ASSERT_EQUAL(parse(a6), -EINVAL);
	CU_ASSERT_EQUAL(parse(a7), 0);
	CU_ASSERT_EQUAL(cli.action, CFG_ACTION_HELP);
	CU_ASSERT_EQUAL(parse(a8), 0);
	CU_ASSERT_EQUAL(cli.action, CFG_ACTION_EXAMPLE);
}

/* The nine variables of the popular derper images, with their meanings. */
static void
test_nine_env_vars(void)
{
	const char *none[] = {NULL};
	static const char *env[] = {
		"DERP_DOMAIN=derp-tok-0.example.com",
		"DERP_CERT_MODE=manual",
		"DERP_CERT_DIR=/app/certs",
		"DERP_ADDR=:443",
		"DERP_STUN=false",
		"DERP_STUN_PORT=3479",
		"DERP_HTTP_PORT=-1",
		"DERP_VERIFY_CLIENTS=true",
		"DERP_VERIFY_CLIENT_URL=http://headscale:8080/verify",
		NULL,
	};

	memcpy(fake_env, env, sizeof(env));
	CU_ASSERT_EQUAL(parse(none), 0);
	CU_ASSERT_EQUAL_FATAL(merge(NULL), 0);
	CU_ASSERT_STRING_EQUAL(cfg->hostname, "derp-tok-0.example.com");
	CU_ASSERT_EQUAL(cfg->cert.mode, CFG_CERT_MANUAL);
	CU_ASSERT_STRING_EQUAL(cfg->cert.dir, "/app/certs");
	CU_ASSERT_STRING_EQUAL(cfg->listen, ":443");
	CU_ASSERT(!cfg->stun.enabled);
	CU_ASSERT_EQUAL(cfg->stun.port, 3479);
	CU_ASSERT_EQUAL(cfg->http_port, -1);
	CU_ASSERT(cfg->verify.clients);
	CU_ASSERT_STRING_EQUAL(cfg->verify.url, "http://headscale:8080/verify");
	CU_ASSERT_EQUAL(cfg->origin[cfg_schema_find("hostname")].source, CFG_SRC_ENV);
	CU_ASSERT_STRING_EQUAL(cfg->origin[cfg_schema_find("hostname")].name, "DERP_DOMAIN");
	/* exactly these nine variables are read */
	{
		unsigned int n = 0;

		for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++)
			if (cfg_schema_key(i)->env)
				n++;
		CU_ASSERT_EQUAL(n, 9);
	}
	fake_env[0] = NULL;
}

static void
test_env_errors_and_empty(void)
{
	const char *none[] = {NULL};
	static const char *env[] = {"DERP_STUN=yes", "DERP_STUN_PORT=0",
				    "DERP_VERIFY_CLIENT_URL=", NULL};

	memcpy(fake_env, env, sizeof(env));
	CU_ASSERT_EQUAL(parse(none), 0);
	CU_ASSERT_EQUAL(merge("verify: { url = \"http://kept/\"; };"), -EINVAL);
	CU_ASSERT_EQUAL(errs.n, 2);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "env DERP_STUN: stun.enabled: \"yes\" is not a boolean (true or false)");
	CU_ASSERT_STRING_EQUAL(errs.msg[1],
			       "env DERP_STUN_PORT: stun.port: 0 is out of range 1..65535");
	/* an exported-but-empty variable does not clear the file's value */
	CU_ASSERT_STRING_EQUAL(cfg->verify.url, "http://kept/");
	fake_env[0] = NULL;
}

/* For every key with a flag or env var: flag > env > file > default. */
static void
test_precedence_every_key(void)
{
	static const char *env[2];
	char file[512], envv[300], flag[300], want[300], got[1024];

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		const char *dot = strrchr(k->name, '.');
		const char *vals[3];
		const char *args[2] = {flag, NULL};

		if (!k->flag && !k->env)
			continue;
		switch (k->type) {
		case CFG_T_INT:
			vals[0] = "1";
			vals[1] = "2";
			vals[2] = "3";
			break;
		case CFG_T_DOUBLE:
			vals[0] = "1.0";
			vals[1] = "2";
			vals[2] = "3";
			break;
		case CFG_T_BOOL:
			vals[0] = "false";
			vals[1] = "true";
			vals[2] = "false";
			break;
		case CFG_T_ENUM:
			vals[0] = "\"manual\"";
			vals[1] = "selfsigned";
			vals[2] = "letsencrypt";
			break;
		case CFG_T_STRLIST:
			vals[0] = "[ \"file\" ]";
			vals[1] = "env";
			vals[2] = "flag";
			break;
		default:
			vals[0] = "\"file\"";
			vals[1] = "env";
			vals[2] = "flag";
			break;
		}
		if (dot)
			snprintf(file, sizeof(file), "%.*s: { %s = %s; };\n",
				 (int)(dot - k->name), k->name, dot + 1, vals[0]);
		else
			snprintf(file, sizeof(file), "%s = %s;\n", k->name, vals[0]);
		snprintf(envv, sizeof(envv), "%s=%s", k->env ? k->env : "UNUSED", vals[1]);
		snprintf(flag, sizeof(flag), "-%s=%s%s", k->flag ? k->flag : "dev",
			 vals[2], (k->flags & CFG_F_DURATION) ? "s" : "");
		env[0] = envv;
		env[1] = NULL;
		memcpy(fake_env, env, sizeof(env));

		/* file only */
		CU_ASSERT_EQUAL(parse((const char *[]){NULL}), 0);
		fake_env[0] = NULL;
		CU_ASSERT_EQUAL_FATAL(merge(file), 0);
		CU_ASSERT_EQUAL(cfg->origin[i].source, CFG_SRC_FILE);
		/* file + env */
		if (k->env) {
			fake_env[0] = envv;
			CU_ASSERT_EQUAL_FATAL(merge(file), 0);
			CU_ASSERT_EQUAL(cfg->origin[i].source, CFG_SRC_ENV);
			cfg_value_format(k, (char *)cfg + k->offset, false, got, sizeof(got));
			if (k->type == CFG_T_STRING || k->type == CFG_T_ENUM)
				snprintf(want, sizeof(want), "\"%s\"", vals[1]);
			else if (k->type == CFG_T_STRLIST)
				snprintf(want, sizeof(want), "[ \"%s\" ]", vals[1]);
			else if (k->type == CFG_T_DOUBLE)
				snprintf(want, sizeof(want), "%s.0", vals[1]);
			else
				snprintf(want, sizeof(want), "%s", vals[1]);
			CU_ASSERT_STRING_EQUAL(got, want);
		}
		/* file + env + flag */
		if (k->flag) {
			fake_env[0] = envv;
			CU_ASSERT_EQUAL_FATAL(parse(args), 0);
			CU_ASSERT_EQUAL_FATAL(merge(file), 0);
			CU_ASSERT_EQUAL(cfg->origin[i].source, CFG_SRC_FLAG);
			cfg_value_format(k, (char *)cfg + k->offset, false, got, sizeof(got));
			if (k->type == CFG_T_STRING || k->type == CFG_T_ENUM)
				snprintf(want, sizeof(want), "\"%s\"", vals[2]);
			else if (k->type == CFG_T_STRLIST)
				snprintf(want, sizeof(want), "[ \"%s\" ]", vals[2]);
			else if (k->type == CFG_T_DOUBLE)
				snprintf(want, sizeof(want), "%s.0", vals[2]);
			else
				snprintf(want, sizeof(want), "%s", vals[2]);
			CU_ASSERT_STRING_EQUAL(got, want);
		}
		fake_env[0] = NULL;
	}
}

static void
test_build_file_and_dev(void)
{
	const char *path = harness_tmpfile("b.conf", "stun: { port = 4000; };\n");
	const char *args[] = {"--config", path, "-dev", "-a=:443", NULL};
	struct cfg_build_opts opts = {.getenv_fn = env_get};

	CU_ASSERT_EQUAL(parse(args), 0);
	CU_ASSERT_EQUAL(cfg_build(&cli, &opts, cfg, &errs), 0);
	CU_ASSERT_EQUAL(cfg->stun.port, 4000);
	/* derper: -dev overrides -a */
	CU_ASSERT_STRING_EQUAL(cfg->listen, ":3340");
	CU_ASSERT_STRING_EQUAL(cfg->source_path, path);
}

static void
test_build_default_path(void)
{
	const char *path = harness_tmpfile("d.conf", "stun: { port = 4001; };\n");
	const char *none[] = {"-dev", NULL};
	struct cfg_build_opts opts = {.default_path = path};
	struct cfg_build_opts missing = {.default_path = "/nonexistent/derper.conf"};

	CU_ASSERT_EQUAL(parse(none), 0);
	CU_ASSERT_EQUAL(cfg_build(&cli, &opts, cfg, &errs), 0);
	CU_ASSERT_EQUAL(cfg->stun.port, 4001);
	/* an absent default file is not an error */
	CU_ASSERT_EQUAL(cfg_build(&cli, &missing, cfg, &errs), 0);
	CU_ASSERT_EQUAL(cfg->stun.port, 3478);
}

static CU_TestInfo tests[] = {
	{"Go flag forms", test_go_flag_forms},
	{"every derper flag", test_every_derper_flag},
	{"flag errors", test_flag_errors},
	{"our options", test_our_options},
	{"the nine DERP_* variables", test_nine_env_vars},
	{"env errors, empty env", test_env_errors_and_empty},
	{"precedence for every key", test_precedence_every_key},
	{"build: --config and -dev", test_build_file_and_dev},
	{"build: default path", test_build_default_path},
	CU_TEST_INFO_NULL,
};

int
main(void)
{
	return harness_run("config/flags", tests, setup, teardown);
}
