/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper.conf parsing, driven by the key table: every key is set from a
 * file with a valid value, with values just outside its bounds and with a
 * value of the wrong type, and each error is checked to the exact
 * "file:line: key: message".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/load.h"
#include "config/merge.h"
#include "config/schema.h"
#include "tests/lib/harness.h"

static struct derper_config *cfg;
static struct cfg_errors errs;

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

static int
apply(const char *text)
{
	cfg_defaults(cfg);
	memset(&errs, 0, sizeof(errs));
	return cfg_file_apply(cfg, "test.conf", text, &errs);
}

/*
 * Render `key = value;` inside its group, after two comment lines, and
 * return the line the setting is on.
 */
static unsigned int
render(const struct cfg_key *k, const char *value, char *out, size_t len)
{
	const char *dot = strrchr(k->name, '.');

	if (!dot) {
		snprintf(out, len, "# a comment\n\n%s = %s;\n", k->name, value);
		return 3;
	}
	snprintf(out, len, "# a comment\n\n%.*s: {\n  %s = %s;\n};\n",
		 (int)(dot - k->name), k->name, dot + 1, value);
	return 4;
}

static bool
settable(const struct cfg_key *k)
{
	return !(k->flags & CFG_F_PORT) && k->type != CFG_T_PORTS;
}

static void
valid_value(const struct cfg_key *k, unsigned int i, char *v, size_t len)
{
	switch (k->type) {
	case CFG_T_BOOL:
		snprintf(v, len, "%s", strcmp(k->def, "true") == 0 ? "false" : "true");
		break;
	case CFG_T_INT:
		/* libconfig 1.5 needs the L suffix beyond 32 bits */
		snprintf(v, len, "%" PRId64 "%s", k->max, k->max > INT32_MAX ? "L" : "");
		break;
	case CFG_T_DOUBLE:
		snprintf(v, len, "%" PRId64 ".0", k->max);
		break;
	case CFG_T_STRING:
		snprintf(v, len, "\"value-%u\"", i);
		break;
	case CFG_T_ENUM: {
		int c = 0;

		while (strcmp(k->choices[c], k->def) == 0)
			c++;
		snprintf(v, len, "\"%s\"", k->choices[c]);
		break;
	}
	case CFG_T_STRLIST:
		snprintf(v, len, "[ \"x%u\", \"y\" ]", i);
		break;
	case CFG_T_PORTS:
		break;
	}
}

/* Every key: a valid value lands in the struct with its file:line. */
static void
test_every_key_valid(void)
{
	char text[1024], value[256], fmt[4096], fmt_def[4096];
	static struct derper_config defaults;

	cfg_defaults(&defaults);
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		unsigned int line;

		if (!settable(k))
			continue;
		valid_value(k, i, value, sizeof(value));
		line = render(k, value, text, sizeof(text));
		if (apply(text))
			fprintf(stderr, "\n%s: %s\n", k->name, errs.msg[0]);
		CU_ASSERT_EQUAL_FATAL(errs.n, 0);
		CU_ASSERT_EQUAL(cfg->origin[i].source, CFG_SRC_FILE);
		CU_ASSERT_EQUAL(cfg->origin[i].line, line);
		cfg_value_format(k, (char *)cfg + k->offset, false, fmt, sizeof(fmt));
		cfg_value_format(k, (char *)&defaults + k->offset, false, fmt_def,
				 sizeof(fmt_def));
		CU_ASSERT_STRING_NOT_EQUAL(fmt, fmt_def);
		if (k->type == CFG_T_INT) {
			char want[64];

			/* formatted back with the L it needs */
			snprintf(want, sizeof(want), "%" PRId64 "%s", k->max,
				 k->max > INT32_MAX ? "L" : "");
			CU_ASSERT_STRING_EQUAL(fmt, want);
		} else if (k->type != CFG_T_DOUBLE && k->type != CFG_T_STRING) {
			CU_ASSERT_STRING_EQUAL(fmt, value);
		}
		if (k->type == CFG_T_STRING) {
			char want[64];

			snprintf(want, sizeof(want), "\"value-%u\"", i);
			CU_ASSERT_STRING_EQUAL(fmt, want);
		}
	}
}

/* Integer keys: min-1 and max+1 are refused with the exact message. */
static void
test_every_key_bounds(void)
{
	char text[1024], value[64], want[512];

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		int64_t bad[2] = {k->min - 1, k->max + 1};
		unsigned int line;

		if (!settable(k) || (k->type != CFG_T_INT && k->type != CFG_T_DOUBLE))
			continue;
		for (int b = 0; b < 2; b++) {
			if (k->type == CFG_T_INT)
				snprintf(value, sizeof(value), "%" PRId64 "%s",
					 bad[b], bad[b] > INT32_MAX || bad[b] < INT32_MIN ? "L" : "");
			else
				snprintf(value, sizeof(value), "%" PRId64 ".0", bad[b]);
			line = render(k, value, text, sizeof(text));
			CU_ASSERT_EQUAL(apply(text), -EINVAL);
			CU_ASSERT_EQUAL_FATAL(errs.n, 1);
			if (k->type == CFG_T_INT)
				snprintf(want, sizeof(want),
					 "test.conf:%u: %s: %" PRId64 " is out of range %" PRId64 "..%" PRId64,
					 line, k->name, bad[b], k->min, k->max);
			else
				snprintf(want, sizeof(want),
					 "test.conf:%u: %s: %g is out of range %" PRId64 "..%" PRId64,
					 line, k->name, (double)bad[b], k->min, k->max);
			CU_ASSERT_STRING_EQUAL(errs.msg[0], want);
		}
	}
}

/* Every key: a value of the wrong type names what was expected. */
static void
test_every_key_wrong_type(void)
{
	char text[1024], want[512];

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		const char *value = k->type == CFG_T_BOOL ? "1" : "true";
		const char *got = k->type == CFG_T_BOOL ? "an integer" : "a boolean";
		const char *expected = NULL;
		unsigned int line;

		if (!settable(k))
			continue;
		switch (k->type) {
		case CFG_T_BOOL:
			expected = "a boolean (true or false)";
			break;
		case CFG_T_INT:
			expected = "an integer";
			break;
		case CFG_T_DOUBLE:
			expected = "a number";
			break;
		case CFG_T_STRING:
		case CFG_T_ENUM:
			expected = "a string";
			break;
		case CFG_T_STRLIST:
			expected = "a list of strings [ \"a\", \"b\" ]";
			break;
		case CFG_T_PORTS:
			break;
		}
		line = render(k, value, text, sizeof(text));
		CU_ASSERT_EQUAL(apply(text), -EINVAL);
		CU_ASSERT_EQUAL_FATAL(errs.n, 1);
		snprintf(want, sizeof(want), "test.conf:%u: %s: expected %s, got %s",
			 line, k->name, expected, got);
		CU_ASSERT_STRING_EQUAL(errs.msg[0], want);
	}
}

static void
test_issue_example_message(void)
{
	/* The message format the operator sees, from the foundation issue. */
	const char *text = "hostname = \"derp.example.com\";\n"
			   "listen = \":443\";\n"
			   "stun: {\n"
			   "  enabled = true;\n"
			   "  port = 70000;\n"
			   "};\n";

	CU_ASSERT_EQUAL(apply(text), -EINVAL);
	CU_ASSERT_EQUAL(errs.n, 1);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "test.conf:5: stun.port: 70000 is out of range 1..65535");
}

static void
test_unknown_keys(void)
{
	const char *text = "hostnme = \"x\";\n"
			   "stun: { prot = 1; };\n"
			   "bogus: { a = 1; };\n"
			   "limits: { max_session = 3; };\n";

	CU_ASSERT_EQUAL(apply(text), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(errs.n, 4);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "test.conf:1: hostnme: unknown key (did you mean hostname?)");
	CU_ASSERT_STRING_EQUAL(errs.msg[1],
			       "test.conf:2: stun.prot: unknown key (did you mean stun.port?)");
	CU_ASSERT_STRING_EQUAL(errs.msg[2], "test.conf:3: bogus: unknown key");
	CU_ASSERT_STRING_EQUAL(errs.msg[3],
			       "test.conf:4: limits.max_session: unknown key (did you mean limits.max_sessions?)");
}

static void
test_scalar_as_group(void)
{
	CU_ASSERT_EQUAL(apply("stun = true;\n"), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0], "test.conf:1: stun: expected a group { }, got a boolean");
	CU_ASSERT_EQUAL(apply("hostname: { a = 1; };\n"), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "test.conf:1: hostname: expected a string, got a group { }");
}

static void
test_syntax_error(void)
{
	CU_ASSERT_EQUAL(apply("hostname = \"a\";\n\nstun: { port = ; };\n"), -EINVAL);
	CU_ASSERT_EQUAL(errs.n, 1);
	CU_ASSERT_STRING_EQUAL(errs.msg[0], "test.conf:3: syntax error");
	CU_ASSERT_EQUAL(apply("a = 1;\na = 2;\n"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[0], "test.conf:2: "));
}

static void
test_missing_file(void)
{
	cfg_defaults(cfg);
	memset(&errs, 0, sizeof(errs));
	CU_ASSERT_EQUAL(cfg_file_apply(cfg, "/nonexistent/derper.conf", NULL,
				       &errs), -ENOENT);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "/nonexistent/derper.conf:0: cannot open: No such file or directory");
}

static void
test_ports(void)
{
	const char *text =
		"dataplane: {\n"
		"  ports = (\n"
		"    { device = \"net_af_packet0,iface=eth1\"; address = \"198.18.0.1/24\"; },\n"
		"    { device = \"0000:3b:02.1\"; mode = \"exclusive\"; address = \"198.18.1.1/24\"; }\n"
		"  );\n"
		"};\n";

	CU_ASSERT_EQUAL_FATAL(apply(text), 0);
	CU_ASSERT_EQUAL(cfg->dataplane.nb_ports, 2);
	CU_ASSERT_STRING_EQUAL(cfg->dataplane.ports[0].device,
			       "net_af_packet0,iface=eth1");
	CU_ASSERT_EQUAL(cfg->dataplane.ports[0].mode, CFG_PORT_SHARED);
	CU_ASSERT_STRING_EQUAL(cfg->dataplane.ports[0].address, "198.18.0.1/24");
	CU_ASSERT_EQUAL(cfg->dataplane.ports[1].mode, CFG_PORT_EXCLUSIVE);
	CU_ASSERT_EQUAL(cfg->dataplane.port_origin[1].line, 4);

	CU_ASSERT_EQUAL(apply("dataplane: { ports = ( { mode = \"shared\"; devce = \"x\"; } ); };\n"),
			-EINVAL);
	CU_ASSERT_EQUAL_FATAL(errs.n, 2);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "test.conf:1: dataplane.ports.devce: unknown key (did you mean dataplane.ports.device?)");
	CU_ASSERT_STRING_EQUAL(errs.msg[1],
			       "test.conf:1: dataplane.ports.device: every port needs a device");
	CU_ASSERT_EQUAL(apply("dataplane: { ports = ( { device = \"a\"; mode = \"both\"; } ); };\n"),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "test.conf:1: dataplane.ports.mode: \"both\" is not one of shared, exclusive");
	CU_ASSERT_EQUAL(apply("dataplane: { ports = \"eth1\"; };\n"), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "test.conf:1: dataplane.ports: expected a list of groups ( { device = \"...\"; }, ... ), got a string");
	CU_ASSERT_EQUAL(apply("dataplane: { ports = []; };\n"), 0);
	CU_ASSERT_EQUAL(cfg->dataplane.nb_ports, 0);
}

static void
test_list_elements(void)
{
	CU_ASSERT_EQUAL(apply("mesh: { peers = ( \"a\", 3 ); };\n"), -EINVAL);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "test.conf:1: mesh.peers: expected a list of strings [ \"a\", \"b\" ], got an integer");
	CU_ASSERT_EQUAL(apply("dataplane: { eal = [ \"--no-huge\", \"-m\", \"256\" ]; };\n"), 0);
	CU_ASSERT_EQUAL(cfg->dataplane.eal.n, 3);
	CU_ASSERT_STRING_EQUAL(cfg->dataplane.eal.v[2], "256");
}

/* libconfig 1.5 would wrap 10000000000 to 1410065408 without a word. */
static void
test_wide_integers(void)
{
	CU_ASSERT_EQUAL(apply("# c 99999999999\nlimits: {\n  client_bytes_per_sec = 10000000000;\n};\n"),
			-EINVAL);
	CU_ASSERT_EQUAL(errs.n, 1);
	CU_ASSERT_STRING_EQUAL(errs.msg[0],
			       "test.conf:3: integer 10000000000 does not fit in 32 bits: write it as 10000000000L");
	CU_ASSERT_EQUAL(apply("limits: { client_bytes_per_sec = 10000000000L; };\n"
			      "hostname = \"a99999999999\";\n"), 0);
	CU_ASSERT_EQUAL(cfg->limits.client_bytes_per_sec, 10000000000LL);
	CU_ASSERT_EQUAL(apply("limits: { accept_rate = 10000000000.0; };\n"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[0], "out of range"));
	CU_ASSERT_EQUAL(apply("stun: { port = 2147483648; };\n"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[0], "does not fit in 32 bits"));
}

static void
test_errors_collected(void)
{
	/* Several problems are all reported, in file order. */
	CU_ASSERT_EQUAL(apply("http_port = 99999;\nstun: { port = \"x\"; };\nderp = 3;\n"),
			-EINVAL);
	CU_ASSERT_EQUAL(errs.n, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[0], "test.conf:1: http_port"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[1], "test.conf:2: stun.port"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[2], "test.conf:3: derp"));
}

static void
test_example_file_loads(void)
{
	cfg_defaults(cfg);
	memset(&errs, 0, sizeof(errs));
	CU_ASSERT_EQUAL(cfg_file_apply(cfg, harness_src("config/derper.conf.example"),
				       NULL, &errs), 0);
	CU_ASSERT_EQUAL(errs.n, 0);
}

static CU_TestInfo tests[] = {
	{"every key: valid value and file:line", test_every_key_valid},
	{"every key: bounds", test_every_key_bounds},
	{"every key: wrong type", test_every_key_wrong_type},
	{"the issue's example message", test_issue_example_message},
	{"unknown keys and hints", test_unknown_keys},
	{"scalar vs group", test_scalar_as_group},
	{"syntax errors", test_syntax_error},
	{"missing file", test_missing_file},
	{"dataplane.ports", test_ports},
	{"list elements", test_list_elements},
	{"wide integers need L", test_wide_integers},
	{"all errors collected", test_errors_collected},
	{"example file loads", test_example_file_loads},
	CU_TEST_INFO_NULL,
};

int
main(void)
{
	return harness_run("config/load", tests, setup, teardown);
}
