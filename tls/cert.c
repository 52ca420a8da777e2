/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "config/addr.h"
#include "tls/cert.h"
#include "tls/keyfile.h"

enum {
	SELF_DAYS = 365,
	RENEW_DAYS = 30,
	META_DAYS = 30,
	DERP_PROTOCOL_VERSION_SERIAL = 2,
};

static void
ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s%s%s%s%s", what, path ? " " : "",
		 path ? path : "", *buf ? ": " : "", buf);
	ERR_clear_error();
}

static int
set_validity(X509 *x, long from_days, long to_days)
{
	return X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400L) &&
	       X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400L);
}

static int
set_name(X509 *x, const char *cn)
{
	X509_NAME *n = X509_get_subject_name(x);

	/* A plain (non-MBSTRING) type skips OpenSSL's 64-character bound
	 * on CN: the meta certificate's "derpkey<64 hex>" is 71 long, and
	 * Go, which made it, encodes it as a PrintableString. */
	return X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_PRINTABLESTRING,
					  (const unsigned char *)cn, -1, -1, 0) &&
	       X509_set_issuer_name(x, n);
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A bare self-signed certificate around `key`. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, long serial, long from_days,
	  long to_days, const char *san)
{
	X509 *x = X509_new();
	const EVP_MD *md = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? NULL
								   : EVP_sha256();

	if (!x)
		return NULL;
	if (!X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !set_validity(x, from_days, to_days) || !set_name(x, cn) ||
	    !X509_set_pubkey(x, key) ||
	    !add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    (san && !add_ext(x, NID_subject_alt_name, san)) ||
	    (san && !add_ext(x, NID_key_usage, "critical,digitalSignature")) ||
	    (san && !add_ext(x, NID_ext_key_usage, "serverAuth")) ||
	    !X509_sign(x, key, md)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

X509 *
tls_cert_self_signed(EVP_PKEY *key, const char *cn, const char *san, long days)
{
	return make_cert(key, cn, (long)time(NULL), 0, days, san);
}

/* Write `data` to path atomically (temp file, fsync, rename). */
static int
write_pem(const char *path, mode_t mode, int (*emit)(BIO *, void *), void *obj)
{
	char tmp[CFG_PATH_LEN + 32];
	BIO *b;
	int fd, rc = 0;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	b = BIO_new_fp(f, BIO_NOCLOSE);
	if (!b || !emit(b, obj))
		rc = -EIO;
	BIO_free(b);
	if (fflush(f) || fsync(fileno(f)))
		rc = rc ? rc : -errno;
	fclose(f);
	if (rc == 0 && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int
emit_cert(BIO *b, void *x)
{
	return PEM_write_bio_X509(b, x);
}

static int
emit_key(BIO *b, void *k)
{
	return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

struct raw {
	const void *p;
	size_t n;
};

static int
emit_raw(BIO *b, void *r)
{
	const struct raw *raw = r;

	return BIO_write(b, raw->p, (int)raw->n) == (int)raw->n;
}

int
tls_cert_write_key(const char *path, EVP_PKEY *key)
{
	return write_pem(path, 0600, emit_key, key);
}

int
tls_cert_write_file(const char *path, mode_t mode, const void *data, size_t len)
{
	struct raw r = {data, len};

	return write_pem(path, mode, emit_raw, &r);
}

void
tls_cert_paths(const struct derper_config *cfg, char *crt, char *key, size_t len)
{
	char base[CFG_HOST_LEN];

	cfg_cert_basename(*cfg->hostname ? cfg->hostname : "localhost", base,
			  sizeof(base));
	snprintf(crt, len, "%s/%s.crt", cfg->cert.dir, base);
	snprintf(key, len, "%s/%s.key", cfg->cert.dir, base);
}

static bool
covers_host(X509 *x, const char *host)
{
	if (!*host)
		host = "localhost";
	if (cfg_is_ip_literal(host))
		return X509_check_ip_asc(x, host, 0) == 1;
	return X509_check_host(x, host, 0, 0, NULL) == 1;
}

/* Create a self-signed pair for cfg->hostname and write it out. */
static int
create_selfsigned(const struct derper_config *cfg, const char *crt_path,
		  const char *key_path, char *err, size_t errlen)
{
	const char *host = *cfg->hostname ? cfg->hostname : "localhost";
	char san[CFG_HOST_LEN * 2 + 64];
	EVP_PKEY *key;
	X509 *x;
	int rc;

	rc = tls_mkdir_p(cfg->cert.dir, 0700);
	if (rc) {
		snprintf(err, errlen, "cannot create %s: %s", cfg->cert.dir,
			 strerror(-rc));
		return rc;
	}
	if (cfg_is_ip_literal(host))
		snprintf(san, sizeof(san), "IP:%s", host);
	else
		snprintf(san, sizeof(san), "DNS:%s", host);
	if (cfg->cert.mode == CFG_CERT_SELFSIGNED && strcmp(host, "localhost"))
		strcat(san, ",DNS:localhost");
	if (cfg->cert.mode == CFG_CERT_SELFSIGNED)
		strcat(san, ",IP:127.0.0.1,IP:::1");
	key = EVP_EC_gen("P-256");
	if (!key) {
		ssl_error(err, errlen, "cannot generate a P-256 key", NULL);
		return -EIO;
	}
	x = make_cert(key, host, (long)time(NULL), 0, SELF_DAYS, san);
	if (!x) {
		EVP_PKEY_free(key);
		ssl_error(err, errlen, "cannot build a self-signed certificate", NULL);
		return -EIO;
	}
	rc = write_pem(key_path, 0600, emit_key, key);
	if (rc == 0)
		rc = write_pem(crt_path, 0644, emit_cert, x);
	if (rc)
		snprintf(err, errlen, "cannot write %s: %s", rc == -EIO ? crt_path : key_path,
			 strerror(-rc));
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* Should an existing self-signed certificate be replaced? */
static bool
needs_new(const char *crt_path, const char *host)
{
	FILE *f = fopen(crt_path, "r");
	X509 *x;
	bool renew;

	if (!f)
		return true;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return true;
	renew = X509_cmp_time(X509_get0_notAfter(x),
			      &(time_t){time(NULL) + RENEW_DAYS * 86400L}) <= 0 ||
		!covers_host(x, host);
	X509_free(x);
	return renew;
}

/* The private key of a pair; as every key file, not readable by others. */
static int
load_key(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = NULL;
	struct stat st;
	int rc = -EINVAL;

	if (!f) {
		snprintf(err, errlen, "cannot load key %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fileno(f), &st) == 0 &&
	    tls_secret_mode_check(path, &st, err, errlen)) {
		rc = -EPERM;
		goto out;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!k || SSL_CTX_use_PrivateKey(ctx, k) != 1)
		ssl_error(err, errlen, "cannot load key", path);
	else
		rc = 0;
out:
	EVP_PKEY_free(k);
	fclose(f);
	return rc;
}

static int
load_pair(SSL_CTX *ctx, const char *crt, const char *key, char *err,
	  size_t errlen)
{
	int rc;

	if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1) {
		ssl_error(err, errlen, "cannot load certificate", crt);
		return -EINVAL;
	}
	rc = load_key(ctx, key, err, errlen);
	if (rc)
		return rc;
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(err, errlen, "key does not match certificate", key);
		return -EINVAL;
	}
	return 0;
}

static int
add_meta_cert(SSL_CTX *ctx, const uint8_t pub[32], char *err, size_t errlen)
{
	char cn[8 + 64 + 1] = "derpkey";
	EVP_PKEY *key;
	X509 *x;
	int ok;

	sodium_bin2hex(cn + 7, sizeof(cn) - 7, pub, 32);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!key) {
		ssl_error(err, errlen, "cannot generate the meta certificate key", NULL);
		return -EIO;
	}
	x = make_cert(key, cn, DERP_PROTOCOL_VERSION_SERIAL, -META_DAYS,
		      META_DAYS, NULL);
	EVP_PKEY_free(key);
	if (!x) {
		ssl_error(err, errlen, "cannot build the meta certificate", NULL);
		return -EIO;
	}
	/* appended after the leaf's own chain: the last certificate sent */
	ok = SSL_CTX_add1_chain_cert(ctx, x);
	X509_free(x);
	if (!ok) {
		ssl_error(err, errlen, "cannot append the meta certificate", NULL);
		return -EIO;
	}
	return 0;
}

/* Until ACME delivers: a one-day self-signed certificate, in memory only. */
static int
placeholder(SSL_CTX *ctx, const char *host, const uint8_t server_pub[32],
	    char *err, size_t errlen)
{
	char san[CFG_HOST_LEN + 8];
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x;
	int ok;

	snprintf(san, sizeof(san), "%s:%s", cfg_is_ip_literal(host) ? "IP" : "DNS", host);
	x = key ? make_cert(key, host, (long)time(NULL), 0, 1, san) : NULL;
	ok = x && SSL_CTX_use_certificate(ctx, x) == 1 &&
	     SSL_CTX_use_PrivateKey(ctx, key) == 1;
	X509_free(x);
	EVP_PKEY_free(key);
	if (!ok) {
		ssl_error(err, errlen, "cannot build a placeholder certificate", NULL);
		return -EIO;
	}
	ERR_clear_error();
	return add_meta_cert(ctx, server_pub, err, errlen);
}

int
tls_cert_install(SSL_CTX *ctx, const struct derper_config *cfg,
		 const uint8_t server_pub[32], char *err, size_t errlen)
{
	char crt[CFG_PATH_LEN + CFG_HOST_LEN + 8], key[sizeof(crt)];
	const char *host = cfg->hostname;
	int rc;

	tls_cert_paths(cfg, crt, key, sizeof(crt));
	switch (cfg->cert.mode) {
	case CFG_CERT_SELFSIGNED:
		if (needs_new(crt, host) || access(key, R_OK)) {
			rc = create_selfsigned(cfg, crt, key, err, errlen);
			if (rc)
				return rc;
		}
		break;
	case CFG_CERT_MANUAL:
		if (cfg_is_ip_literal(host) &&
		    (access(crt, R_OK) || access(key, R_OK))) {
			rc = create_selfsigned(cfg, crt, key, err, errlen);
			if (rc)
				return rc;
		}
		break;
	default:
		/* ACME: the stored certificate if there is a usable one; the
		 * ACME thread replaces it (control/acme.c) */
		if (access(crt, R_OK) == 0 && access(key, R_OK) == 0 &&
		    load_pair(ctx, crt, key, err, errlen) == 0 &&
		    covers_host(SSL_CTX_get0_certificate(ctx), host))
			return add_meta_cert(ctx, server_pub, err, errlen);
		return placeholder(ctx, host, server_pub, err, errlen);
	}
	rc = load_pair(ctx, crt, key, err, errlen);
	if (rc)
		return rc;
	if (*host && cfg->cert.mode == CFG_CERT_MANUAL) {
		X509 *leaf = SSL_CTX_get0_certificate(ctx);

		if (!covers_host(leaf, host)) {
			snprintf(err, errlen, "%s is not valid for %s", crt, host);
			return -EINVAL;
		}
	}
	return add_meta_cert(ctx, server_pub, err, errlen);
}

int
tls_cert_leaf_sha256(SSL_CTX *ctx, char hex[65])
{
	X509 *leaf = SSL_CTX_get0_certificate(ctx);
	unsigned char md[32];
	unsigned int n = 0;

	if (!leaf || !X509_digest(leaf, EVP_sha256(), md, &n) || n != 32)
		return -EINVAL;
	sodium_bin2hex(hex, 65, md, 32);
	return 0;
}
