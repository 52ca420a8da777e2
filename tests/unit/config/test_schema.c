/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/merge.h"
#include "config/schema.h"
#include "tests/lib/harness.h"

static char err[512];

/* Every default parses and lies within its bounds. */
static void
test_defaults_parse(void)
{
	struct derper_config *cfg = calloc(1, sizeof(*cfg));

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		struct cfg_port port;

		if (k->type == CFG_T_PORTS)
			continue;
		memset(&port, 0, sizeof(port));
		CU_ASSERT_EQUAL_FATAL(cfg_value_parse(k, k->def, false,
						      cfg_schema_field(k, cfg, &port),
						      err, sizeof(err)), 0);
	}
	free(cfg);
}

/* Names are unique, help is present, flags and env vars unique. */
static void
test_table_shape(void)
{
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *a = cfg_schema_key(i);

		CU_ASSERT_PTR_NOT_NULL(a->help);
		CU_ASSERT(strlen(a->help) > 10);
		CU_ASSERT_EQUAL(cfg_schema_find(a->name), (int)i);
		for (unsigned int j = i + 1; j < cfg_schema_nb_keys(); j++) {
			const struct cfg_key *b = cfg_schema_key(j);

			CU_ASSERT(strcmp(a->name, b->name) != 0);
			if (a->flag && b->flag)
				CU_ASSERT(strcmp(a->flag, b->flag) != 0);
			if (a->env && b->env)
				CU_ASSERT(strcmp(a->env, b->env) != 0);
		}
	}
	CU_ASSERT_EQUAL(cfg_schema_find("nope"), -1);
}

static void
test_defaults_values(void)
{
	struct derper_config *cfg = calloc(1, sizeof(*cfg));

	cfg_defaults(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->listen, ":443");
	CU_ASSERT_EQUAL(cfg->http_port, 80);
	CU_ASSERT_EQUAL(cfg->stun.port, 3478);
	CU_ASSERT(cfg->stun.enabled);
	CU_ASSERT(cfg->derp);
	CU_ASSERT(cfg->verify.url_fail_open);
	CU_ASSERT_EQUAL(cfg->cert.mode, CFG_CERT_LETSENCRYPT);
	CU_ASSERT_EQUAL(cfg->limits.send_queue_depth, 32);
	CU_ASSERT_EQUAL(cfg->limits.tcp_keepalive_s, 600);
	CU_ASSERT_EQUAL(cfg->limits.tcp_user_timeout_s, 15);
	CU_ASSERT_EQUAL(cfg->limits.tcp_write_timeout_s, 2);
	CU_ASSERT_STRING_EQUAL(cfg->metrics.listen, "127.0.0.1:9375");
	CU_ASSERT_STRING_EQUAL(cfg->dataplane.lcores, "1");
	CU_ASSERT_EQUAL(cfg->dataplane.idle, CFG_IDLE_ADAPTIVE);
	CU_ASSERT_EQUAL(cfg->dataplane.nb_ports, 0);
	CU_ASSERT_EQUAL(cfg->origin[0].source, CFG_SRC_DEFAULT);
	free(cfg);
}

static const struct cfg_key *
key(const char *name)
{
	int i = cfg_schema_find(name);

	CU_ASSERT_FATAL(i >= 0);
	return cfg_schema_key((unsigned int)i);
}

static void
test_parse_bool_go(void)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
	static const char *const bad[] = {"yes", "on", "", "tRUE", "2", " true"};
	bool b;

	for (int i = 0; i < 6; i++) {
		b = false;
		CU_ASSERT_EQUAL(cfg_value_parse(key("derp"), yes[i], false, &b, err,
						sizeof(err)), 0);
		CU_ASSERT(b);
		CU_ASSERT_EQUAL(cfg_value_parse(key("derp"), no[i], false, &b, err,
						sizeof(err)), 0);
		CU_ASSERT(!b);
		CU_ASSERT_EQUAL(cfg_value_parse(key("derp"), bad[i], false, &b, err,
						sizeof(err)), -EINVAL);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a boolean"));
}

static void
test_parse_int_bounds(void)
{
	int64_t v = 0;

	CU_ASSERT_EQUAL(cfg_value_parse(key("stun.port"), "65535", false, &v,
					err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 65535);
	CU_ASSERT_EQUAL(cfg_value_parse(key("stun.port"), "70000", false, &v,
					err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "70000 is out of range 1..65535");
	CU_ASSERT_EQUAL(v, 65535);
	CU_ASSERT_EQUAL(cfg_value_parse(key("stun.port"), "0", false, &v, err,
					sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_value_parse(key("stun.port"), "12x", false, &v,
					err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "\"12x\" is not an integer");
	CU_ASSERT_EQUAL(cfg_value_parse(key("http_port"), "-1", false, &v, err,
					sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, -1);
	CU_ASSERT_EQUAL(cfg_value_parse(key("http_port"), "", false, &v, err,
					sizeof(err)), -EINVAL);
}

static void
test_parse_double_and_inf(void)
{
	double d = -1;
	int64_t v = -1;

	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.accept_rate"), "12.5", true,
					&d, err, sizeof(err)), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 12.5, 1e-9);
	/* derper's defaults for the accept limiter mean "unlimited" = 0 */
	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.accept_rate"), "+Inf", true,
					&d, err, sizeof(err)), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 0, 1e-9);
	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.accept_burst"),
					"9223372036854775807", true, &v, err,
					sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.accept_rate"), "-1", true,
					&d, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.accept_rate"), "nan", true,
					&d, err, sizeof(err)), -EINVAL);
}

static void
test_parse_duration(void)
{
	int64_t ns, v;

	CU_ASSERT_EQUAL(cfg_parse_go_duration("10m", &ns), 0);
	CU_ASSERT_EQUAL(ns, 600000000000LL);
	CU_ASSERT_EQUAL(cfg_parse_go_duration("1h2m3.5s", &ns), 0);
	CU_ASSERT_EQUAL(ns, 3723500000000LL);
	CU_ASSERT_EQUAL(cfg_parse_go_duration("500ms", &ns), 0);
	CU_ASSERT_EQUAL(ns, 500000000LL);
	CU_ASSERT_EQUAL(cfg_parse_go_duration("0", &ns), 0);
	CU_ASSERT_EQUAL(ns, 0);
	CU_ASSERT_EQUAL(cfg_parse_go_duration("10", &ns), -EINVAL);
	CU_ASSERT_EQUAL(cfg_parse_go_duration("", &ns), -EINVAL);
	CU_ASSERT_EQUAL(cfg_parse_go_duration("5x", &ns), -EINVAL);

	/* flags take durations; files and --set take seconds */
	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.tcp_keepalive_s"), "10m",
					true, &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 600);
	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.tcp_write_timeout_s"),
					"500ms", true, &v, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "500ms is not a whole number of seconds");
	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.tcp_keepalive_s"), "10m",
					false, &v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_value_parse(key("limits.tcp_user_timeout_s"),
					"2h", true, &v, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "7200 is out of range 0..3600");
}

static void
test_parse_enum_and_string(void)
{
	int64_t e = -1;
	char s[CFG_HOST_LEN];
	char big[300];

	CU_ASSERT_EQUAL(cfg_value_parse(key("cert.mode"), "manual", false, &e,
					err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(e, CFG_CERT_MANUAL);
	CU_ASSERT_EQUAL(cfg_value_parse(key("cert.mode"), "gcp", false, &e, err,
					sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "\"gcp\" is not one of letsencrypt, manual, selfsigned");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(cfg_value_parse(key("hostname"), big, false, s, err,
					sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "value is 299 bytes long, the limit is 255");
	CU_ASSERT_EQUAL(cfg_value_parse(key("hostname"), "a\nb", false, s, err,
					sizeof(err)), -EINVAL);
}

static void
test_parse_list(void)
{
	struct cfg_strlist l;

	CU_ASSERT_EQUAL(cfg_value_parse(key("mesh.peers"), "a.example.com, b/c:443",
					false, &l, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT_STRING_EQUAL(l.v[0], "a.example.com");
	CU_ASSERT_STRING_EQUAL(l.v[1], "b/c:443");
	CU_ASSERT_EQUAL(cfg_value_parse(key("mesh.peers"), "", false, &l, err,
					sizeof(err)), 0);
	CU_ASSERT_EQUAL(l.n, 0);
	CU_ASSERT_EQUAL(cfg_value_parse(key("mesh.peers"), "a,,b", false, &l,
					err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "element 2 is empty");
}

static void
test_suggest(void)
{
	CU_ASSERT_STRING_EQUAL(cfg_schema_suggest("stun.prot"), "stun.port");
	CU_ASSERT_STRING_EQUAL(cfg_schema_suggest("hostnme"), "hostname");
	CU_ASSERT_STRING_EQUAL(cfg_schema_suggest("limits.max_session"),
			       "limits.max_sessions");
	CU_ASSERT_PTR_NULL(cfg_schema_suggest("completely.unrelated"));
}

static void
test_format_and_redact(void)
{
	char buf[4096];
	char url[CFG_URL_LEN] = "https://user:secret@hooks.example.com/verify?token=abc";
	struct cfg_strlist l = {.n = 2, .v = {"a", "b\"c"}};
	double d = 2;

	CU_ASSERT_STRING_EQUAL(cfg_value_format(key("verify.url"), url, true, buf,
						sizeof(buf)),
			       "\"https://<redacted>@hooks.example.com/verify?<redacted>\"");
	CU_ASSERT_STRING_EQUAL(cfg_value_format(key("verify.url"), url, false,
						buf, sizeof(buf)),
			       "\"https://user:secret@hooks.example.com/verify?token=abc\"");
	CU_ASSERT_STRING_EQUAL(cfg_value_format(key("mesh.peers"), &l, true, buf,
						sizeof(buf)),
			       "[ \"a\", \"b\\\"c\" ]");
	CU_ASSERT_STRING_EQUAL(cfg_value_format(key("limits.accept_rate"), &d,
						true, buf, sizeof(buf)),
			       "2.0");
}

static CU_TestInfo tests[] = {
	{"defaults parse", test_defaults_parse},
	{"table shape", test_table_shape},
	{"default values", test_defaults_values},
	{"bool as Go ParseBool", test_parse_bool_go},
	{"int bounds", test_parse_int_bounds},
	{"double and Inf", test_parse_double_and_inf},
	{"Go durations", test_parse_duration},
	{"enum and string", test_parse_enum_and_string},
	{"string list", test_parse_list},
	{"did you mean", test_suggest},
	{"format and redaction", test_format_and_redact},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("config/schema", tests)
