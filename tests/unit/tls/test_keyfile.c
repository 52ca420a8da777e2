/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/lib/harness.h"
#include "tls/handshake.h"
#include "tls/keyfile.h"
#include "tls/test_hooks.h"

static char err[512];

static void
test_parse(void)
{
	uint8_t k[32];
	const char *good = "{\n\t\"PrivateKey\": \"privkey:"
			   "109791e39c378772ed21e69f7f76694e75cce0a3a990131cdf18acdd8525556e\"\n}";
	const char *upper = "{\"privatekey\":\"privkey:"
			    "109791E39C378772ED21E69F7F76694E75CCE0A3A990131CDF18ACDD8525556E\",\"x\":1}";

	CU_ASSERT_EQUAL(tls_keyfile_parse(good, strlen(good), k, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(k[0], 0x10);
	CU_ASSERT_EQUAL(k[31], 0x6e);
	CU_ASSERT_EQUAL(tls_keyfile_parse(upper, strlen(upper), k, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tls_keyfile_parse("{}", 2, k, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "no \"PrivateKey\" field");
	CU_ASSERT_EQUAL(tls_keyfile_parse("[1]", 3, k, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(tls_keyfile_parse("{\"PrivateKey\":\"nodekey:00\"}", 27, k, err, sizeof(err)), -EINVAL);
	{
		const char *zero = "{\"PrivateKey\":\"privkey:"
				   "0000000000000000000000000000000000000000000000000000000000000000\"}";

		CU_ASSERT_EQUAL(tls_keyfile_parse(zero, strlen(zero), k, err, sizeof(err)), -EINVAL);
	}
	CU_ASSERT_STRING_EQUAL(err, "\"PrivateKey\" is all zero");
	CU_ASSERT_EQUAL(tls_keyfile_parse("{\"PrivateKey\": 5}", 17, k, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(tls_keyfile_parse("{\"PrivateKey\":\"privkey:1\"} x", 28, k, err, sizeof(err)), -EINVAL);
}

/* A key must come from the PrivateKey member, not from whichever string
 * member happens to be last. */
static void
test_other_member_not_a_key(void)
{
	uint8_t k[32];
	const char *other = "{\"x\":\"privkey:"
			    "109791e39c378772ed21e69f7f76694e75cce0a3a990131cdf18acdd8525556e\"}";
	const char *after = "{\"PrivateKey\":5,\"x\":\"privkey:"
			    "109791e39c378772ed21e69f7f76694e75cce0a3a990131cdf18acdd8525556e\"}";

	CU_ASSERT_EQUAL(tls_keyfile_parse(other, strlen(other), k, err, sizeof(err)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "no \"PrivateKey\" field");
	CU_ASSERT_EQUAL(tls_keyfile_parse(after, strlen(after), k, err, sizeof(err)), -EINVAL);
}

/* Jansson's copies of the key are wiped when it frees them. */
static void
test_json_copies_wiped(void)
{
	const char *good = "{\"PrivateKey\": \"privkey:"
			   "109791e39c378772ed21e69f7f76694e75cce0a3a990131cdf18acdd8525556e\"}";
	json_malloc_t m = NULL;
	json_free_t f = NULL;
	uint8_t k[32];

	CU_ASSERT_EQUAL(tls_keyfile_parse(good, strlen(good), k, err, sizeof(err)), 0);
	json_get_alloc_funcs(&m, &f);
	CU_ASSERT_PTR_EQUAL(f, tls_json_wipe_free);
	tls_json_wipe_free(NULL);
}

static void
test_create_and_reload(void)
{
	char dir[] = "/tmp/derper-key-XXXXXX", path[256];
	uint8_t a[32], b[32];
	struct stat st;
	bool created;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/dir/derper.key", dir);
	CU_ASSERT_EQUAL(tls_keyfile_load(path, a, &created, err, sizeof(err)), 0);
	CU_ASSERT(created);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(tls_keyfile_load(path, b, &created, err, sizeof(err)), 0);
	CU_ASSERT(!created);
	CU_ASSERT(memcmp(a, b, 32) == 0);	/* same identity after restart */
	CU_ASSERT_EQUAL(a[0] & 7, 0);		/* clamped */
	CU_ASSERT_EQUAL(a[31] & 0xc0, 0x40);
	chmod(path, 0644);
	CU_ASSERT_EQUAL(tls_keyfile_load(path, b, &created, err, sizeof(err)), -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod 600"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/dir", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

static void
test_short_and_hex(void)
{
	uint8_t k[32] = {0};
	char s[8], hex[65];

	CU_ASSERT_EQUAL(tls_key_from_hex("954a0df0c1a5b2383b4eb7a64f0cd7787d5099ef0e0c75bbbe72e9731baeeb57",
					 64, k), 0);
	tls_key_short(k, s);
	/* base64 of 95 4a 0d f0 ... starts "lUoN8" */
	CU_ASSERT_STRING_EQUAL(s, "[lUoN8]");
	tls_key_hex(k, hex);
	CU_ASSERT_STRING_EQUAL(hex, "954a0df0c1a5b2383b4eb7a64f0cd7787d5099ef0e0c75bbbe72e9731baeeb57");
	CU_ASSERT_EQUAL(tls_key_from_hex("zz", 2, k), -EINVAL);
}

static void
test_mesh_key(void)
{
	static const char hex[] = "5A5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
	char text[128], dir[] = "/tmp/derper-meshkey-XXXXXX", path[128];
	uint8_t k[32];
	FILE *f;

	snprintf(text, sizeof(text), " \t%s\r\n\n", hex);
	CU_ASSERT_EQUAL(tls_mesh_key_parse(text, strlen(text), k, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(k[0], 0x5a);
	CU_ASSERT_EQUAL(k[31], 0x5a);
	CU_ASSERT_EQUAL(tls_mesh_key_parse(hex, 63, k, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "64 hex digits"));
	CU_ASSERT_EQUAL(tls_mesh_key_parse("", 0, k, err, sizeof(err)), -EINVAL);
	memset(text, '0', 64);
	CU_ASSERT_EQUAL(tls_mesh_key_parse(text, 64, k, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "all zero"));
	/* an embedded NUL is not whitespace */
	memcpy(text, hex, 64);
	text[64] = '\0';
	CU_ASSERT_EQUAL(tls_mesh_key_parse(text, 65, k, err, sizeof(err)), -EINVAL);
	/* the file: others may not read it; symlinks are followed */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/psk", dir);
	f = fopen(path, "w");
	fprintf(f, "%s\n", hex);
	fclose(f);
	chmod(path, 0640);
	CU_ASSERT_EQUAL(tls_mesh_key_load(path, k, err, sizeof(err)), 0);
	chmod(path, 0644);
	CU_ASSERT_EQUAL(tls_mesh_key_load(path, k, err, sizeof(err)), -EPERM);
	chmod(path, 0600);
	snprintf(text, sizeof(text), "%s/link", dir);
	CU_ASSERT_EQUAL(symlink(path, text), 0);
	CU_ASSERT_EQUAL(tls_mesh_key_load(text, k, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tls_mesh_key_load("/nonexistent/psk", k, err, sizeof(err)), -ENOENT);
	unlink(text);
	unlink(path);
	rmdir(dir);
}

static CU_TestInfo tests[] = {
	{"parse derper's key file", test_parse},
	{"another member holding a key is not the key", test_other_member_not_a_key},
	{"jansson wipes what it frees", test_json_copies_wiped},
	{"create 0600, reload same key, refuse world-readable", test_create_and_reload},
	{"short form and hex", test_short_and_hex},
	{"mesh key: parse, file mode, symlink", test_mesh_key},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("tls/keyfile", tests)
