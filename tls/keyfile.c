/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <sodium.h>

#include "tls/handshake.h"
#include "tls/keyfile.h"
#include "tls/test_hooks.h"

enum { KEYFILE_MAX = 64 << 10 };

int
tls_hex_decode(const char *hex, size_t n, uint8_t *out)
{
	size_t got = 0;
	const char *end = NULL;

	/* libsodium's decoder runs in constant time: these are keys */
	if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, &end) || got != n ||
	    end != hex + 2 * n)
		return -EINVAL;
	return 0;
}

int
tls_key_from_hex(const char *hex, size_t len, uint8_t key[DERP_KEY_LEN])
{
	if (len != 2 * DERP_KEY_LEN)
		return -EINVAL;
	return tls_hex_decode(hex, DERP_KEY_LEN, key);
}

void
tls_key_hex(const uint8_t key[DERP_KEY_LEN], char out[65])
{
	sodium_bin2hex(out, 65, key, DERP_KEY_LEN);
}

void
tls_key_short(const uint8_t key[DERP_KEY_LEN], char out[8])
{
	char b64[sodium_base64_ENCODED_LEN(4, sodium_base64_VARIANT_ORIGINAL)];

	/* the first 5 characters of the key's base64 come from its first 4 bytes */
	sodium_bin2base64(b64, sizeof(b64), key, 4, sodium_base64_VARIANT_ORIGINAL);
	out[0] = '[';
	memcpy(out + 1, b64, 5);
	out[6] = ']';
	out[7] = '\0';
}

/* Jansson copies the key file's text into its lexer and string values;
 * every block it frees is wiped first, so no copy of the key outlives the
 * parse. Installed once, before any thread but the caller uses jansson
 * (the key file is read at start-up), and harmless for everyone else. */
void
tls_json_wipe_free(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

static pthread_once_t json_once = PTHREAD_ONCE_INIT;

static void
json_wipe_install(void)
{
	json_set_alloc_funcs(malloc, tls_json_wipe_free);
}

int
tls_keyfile_parse(const char *text, size_t len, uint8_t priv[DERP_KEY_LEN],
		  char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	json_t *v, *found = NULL;
	const char *k, *s;
	int rc = -EINVAL;

	pthread_once(&json_once, json_wipe_install);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "not JSON: %s (line %d)", jerr.text, jerr.line);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	/* the loop leaves v at the last member: only a match counts */
	json_object_foreach(root, k, v) {
		if (strcasecmp(k, "PrivateKey") == 0) {
			found = v;
			break;
		}
	}
	if (!found) {
		snprintf(err, errlen, "no \"PrivateKey\" field");
		goto out;
	}
	s = json_string_value(found);
	if (!s || strncmp(s, "privkey:", 8) != 0 ||
	    tls_key_from_hex(s + 8, strlen(s + 8), priv)) {
		snprintf(err, errlen,
			 "\"PrivateKey\" is not \"privkey:\" and 64 hex digits");
		goto out;
	}
	if (tls_key_is_zero(priv)) {
		snprintf(err, errlen, "\"PrivateKey\" is all zero");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
tls_mkdir_p(const char *dir, mode_t mode)
{
	char copy[4096], parent[4096];
	int rc;

	if (!*dir || strcmp(dir, ".") == 0 || strcmp(dir, "/") == 0 ||
	    access(dir, F_OK) == 0)
		return 0;
	snprintf(copy, sizeof(copy), "%s", dir);
	snprintf(parent, sizeof(parent), "%s", dirname(copy));
	rc = tls_mkdir_p(parent, mode);
	if (rc)
		return rc;
	if (mkdir(dir, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The directories above `path`, 0700 where missing. */
static int
make_parents(const char *path)
{
	char copy[4096];

	snprintf(copy, sizeof(copy), "%s", path);
	return tls_mkdir_p(dirname(copy), 0700);
}

static int
create(const char *path, uint8_t priv[DERP_KEY_LEN], char *err, size_t errlen)
{
	char tmp[4200], hex[65], json[128];
	int fd, n, rc = 0;

	tls_key_generate(priv);
	tls_key_hex(priv, hex);
	/* the layout of Go's json.MarshalIndent(cfg, "", "\t") */
	n = snprintf(json, sizeof(json), "{\n\t\"PrivateKey\": \"privkey:%s\"\n}", hex);
	tls_key_wipe(hex, sizeof(hex));
	rc = make_parents(path);
	if (rc) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", path,
			 strerror(-rc));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, json, (size_t)n) != n || fsync(fd)) {
		rc = -errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path)) {
		rc = -errno;
		snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
	}
out:
	tls_key_wipe(json, sizeof(json));
	return rc;
}

int
tls_secret_mode_check(const char *path, const struct stat *st, char *err,
		      size_t errlen)
{
	if (!(st->st_mode & S_IROTH))
		return 0;
	snprintf(err, errlen,
		 "%s is readable by every user (mode %03o): run chmod 600 %s",
		 path, (unsigned int)(st->st_mode & 0777), path);
	return -EPERM;
}

/* Read a small secret file whole (symlinks followed, as Kubernetes mounts
 * secrets); a file readable by every user is refused. The caller frees
 * and wipes *out. Returns 0 or -errno with the reason in err. */
static int
read_secret(const char *path, char **out, size_t *len, char *err,
	    size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int rc = -errno;

		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > KEYFILE_MAX) {
		snprintf(err, errlen, "%s: not a small regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (tls_secret_mode_check(path, &st, err, errlen)) {
		close(fd);
		return -EPERM;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "%s: short read", path);
		free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* Prefix err with the path. */
static void
err_path(const char *path, char *err, size_t errlen)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", err);
	snprintf(err, errlen, "%s: %s", path, why);
}

int
tls_keyfile_load(const char *path, uint8_t priv[DERP_KEY_LEN], bool *created,
		 char *err, size_t errlen)
{
	char *buf;
	size_t n;
	int rc;

	*created = false;
	if (access(path, F_OK) && errno == ENOENT) {
		rc = create(path, priv, err, errlen);
		*created = rc == 0;
		return rc;
	}
	rc = read_secret(path, &buf, &n, err, errlen);
	if (rc)
		return rc;
	rc = tls_keyfile_parse(buf, n, priv, err, errlen);
	tls_key_wipe(buf, n);
	free(buf);
	if (rc)
		err_path(path, err, errlen);
	return rc;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

int
tls_mesh_key_parse(const char *text, size_t len, uint8_t key[DERP_KEY_LEN],
		   char *err, size_t errlen)
{
	while (len && is_space(text[len - 1]))
		len--;
	while (len && is_space(*text)) {
		text++;
		len--;
	}
	if (len != 2 * DERP_KEY_LEN || tls_key_from_hex(text, len, key)) {
		snprintf(err, errlen,
			 "the mesh key must be 64 hex digits (found %zu characters)", len);
		return -EINVAL;
	}
	if (tls_key_is_zero(key)) {
		snprintf(err, errlen, "the mesh key is all zero");
		return -EINVAL;
	}
	return 0;
}

int
tls_mesh_key_load(const char *path, uint8_t key[DERP_KEY_LEN], char *err,
		  size_t errlen)
{
	char *buf;
	size_t n;
	int rc = read_secret(path, &buf, &n, err, errlen);

	if (rc)
		return rc;
	rc = tls_mesh_key_parse(buf, n, key, err, errlen);
	tls_key_wipe(buf, n);
	free(buf);
	if (rc)
		err_path(path, err, errlen);
	return rc;
}
