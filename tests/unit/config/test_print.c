/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/load.h"
#include "config/merge.h"
#include "config/print.h"
#include "config/schema.h"
#include "tests/lib/harness.h"

static char *
render_example(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	cfg_print_example(f);
	fclose(f);
	return buf;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len + 1);
	if (fread(buf, 1, *len, f) != *len)
		*len = 0;
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* The checked-in example is exactly what the key table generates. */
static void
test_example_is_generated(void)
{
	size_t a, b;
	char *gen = render_example(&a);
	char *file = slurp(harness_src("config/derper.conf.example"), &b);

	CU_ASSERT_PTR_NOT_NULL_FATAL(file);
	CU_ASSERT_EQUAL(a, b);
	CU_ASSERT(strcmp(gen, file) == 0);
	if (strcmp(gen, file) != 0)
		fprintf(stderr, "\nconfig/derper.conf.example is stale: run "
				"build/derper --print-example > config/derper.conf.example\n");
	free(gen);
	free(file);
}

/* It documents every key with its description. */
static void
test_example_documents_every_key(void)
{
	size_t len;
	char *gen = render_example(&len);

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);
		const char *leaf = strrchr(k->name, '.');

		CU_ASSERT_PTR_NOT_NULL(strstr(gen, k->help));
		leaf = leaf ? leaf + 1 : k->name;
		CU_ASSERT_PTR_NOT_NULL(strstr(gen, leaf));
	}
	free(gen);
}

/* --print-config output is itself a valid derper.conf with the same values. */
static void
test_print_roundtrip(void)
{
	static struct derper_config a, b;
	struct cfg_errors errs = {0};
	char *buf = NULL;
	size_t len;
	FILE *f;
	const char *text =
		"hostname = \"derp.example.com\";\n"
		"stun: { port = 3479; tailscale_only = true; };\n"
		"mesh: { psk_file = \"/k\"; peers = [ \"a\", \"b/c\" ]; };\n"
		"limits: { accept_rate = 2.5; };\n"
		"dataplane: { eal = [ \"--no-huge\" ];\n"
		"  ports = ( { device = \"net_tap0\"; mode = \"exclusive\"; address = \"198.18.0.1/24\"; } ); };\n";

	cfg_defaults(&a);
	CU_ASSERT_EQUAL_FATAL(cfg_file_apply(&a, "p.conf", text, &errs), 0);
	f = open_memstream(&buf, &len);
	cfg_print(f, &a);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "port = 3479;  # p.conf:2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "listen = \":443\";  # default"));
	cfg_defaults(&b);
	CU_ASSERT_EQUAL(cfg_file_apply(&b, "p.conf", buf, &errs), 0);
	CU_ASSERT_EQUAL(errs.n, 0);
	CU_ASSERT_EQUAL(b.stun.port, 3479);
	CU_ASSERT(b.stun.tailscale_only);
	CU_ASSERT_EQUAL(b.mesh.peers.n, 2);
	CU_ASSERT_DOUBLE_EQUAL(b.limits.accept_rate, 2.5, 1e-9);
	CU_ASSERT_EQUAL(b.dataplane.nb_ports, 1);
	CU_ASSERT_EQUAL(b.dataplane.ports[0].mode, CFG_PORT_EXCLUSIVE);
	CU_ASSERT_STRING_EQUAL(b.dataplane.ports[0].address, "198.18.0.1/24");
	free(buf);
}

static void
test_print_redacts(void)
{
	static struct derper_config a;
	struct cfg_errors errs = {0};
	char *buf = NULL;
	size_t len;
	FILE *f;

	cfg_defaults(&a);
	CU_ASSERT_EQUAL(cfg_file_apply(&a, "p.conf",
				       "verify: { url = \"https://u:pw@h/v?k=secret\"; };\n",
				       &errs), 0);
	f = open_memstream(&buf, &len);
	cfg_print(f, &a);
	fclose(f);
	CU_ASSERT_PTR_NULL(strstr(buf, "k=secret"));
	CU_ASSERT_PTR_NULL(strstr(buf, ":pw@"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "https://<redacted>@h/v?<redacted>"));
	free(buf);
}

static void
test_help_lists_flags_and_keys(void)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	cfg_print_help(f, "derper");
	fclose(f);
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);

		CU_ASSERT_PTR_NOT_NULL(strstr(buf, k->name));
		if (k->flag) {
			char flag[64];

			snprintf(flag, sizeof(flag), "  -%s ", k->flag);
			CU_ASSERT_PTR_NOT_NULL(strstr(buf, flag));
		}
		if (k->env)
			CU_ASSERT_PTR_NOT_NULL(strstr(buf, k->env));
	}
	free(buf);
}

static CU_TestInfo tests[] = {
	{"example file is generated from the table", test_example_is_generated},
	{"example documents every key", test_example_documents_every_key},
	{"--print-config round trip", test_print_roundtrip},
	{"--print-config redacts secrets", test_print_redacts},
	{"--help lists flags, env and keys", test_help_lists_flags_and_keys},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("config/print", tests)
