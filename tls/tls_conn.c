/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config/addr.h"
#include "tls/cert.h"
#include "tls/record.h"
#include "tls/tls_conn.h"

enum { ACME_HTTP01_MAX = 8 };

/* ACME challenge material a context serves (RFC 8555 §8.3, RFC 8737). */
struct acme_material {
	unsigned int nb_http01;
	struct {
		char token[128];
		char keyauth[256];
	} http01[ACME_HTTP01_MAX];
	X509 *alpn_cert;		/* TLS-ALPN-01 validation certificate */
	EVP_PKEY *alpn_key;
	char alpn_name[CFG_HOST_LEN];
};

/*
 * Lives as long as its SSL_CTX (ex data freed with it): handshakes still
 * in flight on a replaced context keep using their callbacks' argument.
 */
struct tls_ctx {
	SSL_CTX *ssl_ctx;
	bool sni_strict;			/* DNS hostname, manual/ACME */
	char hostname[CFG_HOST_LEN];
	struct acme_material acme;
};

static int ctx_idx = -1;		/* SSL_CTX ex data: our struct tls_ctx */
static int acme_flag_idx = -1;		/* SSL ex data: acme-tls/1 handshake */

/* TLS 1.2 suites with forward secrecy and AEAD only; 1.3 keeps its own. */
static const char cipher_list[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";
	static const unsigned char acme[] = "\x0a" "acme-tls/1";

	(void)arg;
	if (acme_flag_idx >= 0 && SSL_get_ex_data(ssl, acme_flag_idx)) {
		/* a TLS-ALPN-01 validation: answer with acme-tls/1 only */
		if (SSL_select_next_proto((unsigned char **)out, outlen, acme,
					  sizeof(acme) - 1, in, inlen) ==
		    OPENSSL_NPN_NEGOTIATED)
			return SSL_TLSEXT_ERR_OK;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	if (SSL_select_next_proto((unsigned char **)out, outlen, http11,
				  sizeof(http11) - 1, in, inlen) ==
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

/*
 * The application traffic secrets of a TLS 1.3 handshake, kept (as ex data
 * of the SSL) until the session takes them for its own record layer.
 * OpenSSL's key log callback is the public way to see them.
 */
struct secrets {
	uint8_t s[2][TLS13_MAX_SECRET];	/* client, server */
	size_t len[2];
};

static int secrets_idx = -1;
static pthread_once_t secrets_once = PTHREAD_ONCE_INIT;

static void
secrets_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
	     void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr) {
		OPENSSL_cleanse(ptr, sizeof(struct secrets));
		free(ptr);
	}
}

static void
ctx_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
	 void *argp)
{
	struct tls_ctx *c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (!c)
		return;
	X509_free(c->acme.alpn_cert);
	EVP_PKEY_free(c->acme.alpn_key);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static void
secrets_init(void)
{
	secrets_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, secrets_free);
	acme_flag_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_free);
}

static void
keylog(const SSL *cssl, const char *line)
{
	SSL *ssl = (SSL *)cssl;	/* our own ex data */
	uint8_t secret[TLS13_MAX_SECRET];
	struct secrets *k;
	size_t len;
	int which;

	if (secrets_idx < 0 || tls13_keylog_parse(line, &which, secret, &len))
		return;
	k = SSL_get_ex_data(ssl, secrets_idx);
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k || !SSL_set_ex_data(ssl, secrets_idx, k)) {
			free(k);
			return;
		}
	}
	memcpy(k->s[which], secret, len);
	k->len[which] = len;
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* The first name of a server_name extension body, as text. */
static bool
hello_sni(SSL *ssl, char *out, size_t outlen)
{
	const unsigned char *p;
	size_t len, n;

	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) ||
	    len < 5 || p[2] != TLSEXT_NAMETYPE_host_name)
		return false;
	n = (size_t)p[3] << 8 | p[4];
	if (n == 0 || n >= outlen || n > len - 5)
		return false;
	memcpy(out, p + 5, n);
	out[n] = '\0';
	return true;
}

static bool
hello_offers_acme_alpn(SSL *ssl)
{
	const unsigned char *p;
	size_t len, off = 2;

	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation,
				       &p, &len) || len < 2)
		return false;
	while (off < len) {
		size_t n = p[off];

		if (off + 1 + n > len)
			return false;
		if (n == 10 && memcmp(p + off + 1, "acme-tls/1", 10) == 0)
			return true;
		off += 1 + n;
	}
	return false;
}

/* TLS-ALPN-01 (RFC 8737): a ClientHello for the name being validated that
 * offers acme-tls/1 gets the validation certificate, nothing else. */
static int
client_hello(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx *c = arg;
	char sni[CFG_HOST_LEN];

	(void)alert;
	if (!c->acme.alpn_cert || !hello_offers_acme_alpn(ssl))
		return SSL_CLIENT_HELLO_SUCCESS;
	if (!hello_sni(ssl, sni, sizeof(sni)) || strcasecmp(sni, c->acme.alpn_name) ||
	    SSL_use_cert_and_key(ssl, c->acme.alpn_cert, c->acme.alpn_key, NULL, 1) != 1)
		return SSL_CLIENT_HELLO_SUCCESS;
	SSL_set_ex_data(ssl, acme_flag_idx, (void *)1);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* derper, manual or ACME mode with a DNS hostname: SNI must be the hostname. */
static int
check_sni(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx *c = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (!c->sni_strict)
		return SSL_TLSEXT_ERR_OK;
	if (sni && strcasecmp(sni, c->hostname) == 0)
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

struct tls_ctx *
tls_ctx_create(const struct derper_config *cfg, const uint8_t server_pub[32],
	       char *err, size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof(*c));
	SSL_CTX *ctx;

	pthread_once(&secrets_once, secrets_init);
	if (!c || ctx_idx < 0) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_ex_data(ctx, ctx_idx, c)) {
		SSL_CTX_free(ctx);
		free(c);
		snprintf(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	/* from here c is freed with ctx */
	c->ssl_ctx = ctx;
	snprintf(c->hostname, sizeof(c->hostname), "%s", cfg->hostname);
	c->sni_strict = cfg->cert.mode != CFG_CERT_SELFSIGNED && *cfg->hostname &&
			!cfg_is_ip_literal(cfg->hostname);

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_IGNORE_UNEXPECTED_EOF |
					 SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				      SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
	/* AES-128 first: as strong as needed, and the cheapest per byte */
	if (SSL_CTX_set_cipher_list(ctx, cipher_list) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
					  "TLS_CHACHA20_POLY1305_SHA256:"
					  "TLS_AES_256_GCM_SHA384") != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		snprintf(err, errlen, "cannot set the cipher suites");
		goto fail;
	}
	SSL_CTX_set_keylog_callback(ctx, keylog);
	SSL_CTX_set_client_hello_cb(ctx, client_hello, c);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, check_sni);
	SSL_CTX_set_tlsext_servername_arg(ctx, c);
	if (tls_cert_install(ctx, cfg, server_pub, err, errlen))
		goto fail;
	return c;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls_ctx *
tls_ctx_get(struct tls_ctx *c)
{
	SSL_CTX_up_ref(c->ssl_ctx);
	return c;
}

void
tls_ctx_put(struct tls_ctx *c)
{
	if (c)
		SSL_CTX_free(c->ssl_ctx);	/* the last reference frees c */
}

int
tls_ctx_add_http01(struct tls_ctx *c, const char *token, const char *keyauth)
{
	struct acme_material *a = &c->acme;

	if (a->nb_http01 == ACME_HTTP01_MAX || strlen(token) >= sizeof(a->http01[0].token) ||
	    strlen(keyauth) >= sizeof(a->http01[0].keyauth))
		return -ENOSPC;
	snprintf(a->http01[a->nb_http01].token, sizeof(a->http01[0].token), "%s", token);
	snprintf(a->http01[a->nb_http01].keyauth, sizeof(a->http01[0].keyauth), "%s",
		 keyauth);
	a->nb_http01++;
	return 0;
}

int
tls_ctx_set_alpn01(struct tls_ctx *c, const char *name, struct x509_st *cert,
		   struct evp_pkey_st *key)
{
	if (!X509_up_ref(cert) || !EVP_PKEY_up_ref(key))
		return -EIO;
	X509_free(c->acme.alpn_cert);
	EVP_PKEY_free(c->acme.alpn_key);
	c->acme.alpn_cert = cert;
	c->acme.alpn_key = key;
	snprintf(c->acme.alpn_name, sizeof(c->acme.alpn_name), "%s", name);
	return 0;
}

const char *
tls_ctx_http01(const struct tls_ctx *c, const char *token, size_t n)
{
	for (unsigned int i = 0; c && i < c->acme.nb_http01; i++)
		if (strlen(c->acme.http01[i].token) == n &&
		    memcmp(c->acme.http01[i].token, token, n) == 0)
			return c->acme.http01[i].keyauth;
	return NULL;
}

bool
tls_io_acme_alpn(struct ssl_st *ssl)
{
	return acme_flag_idx >= 0 && SSL_get_ex_data(ssl, acme_flag_idx) != NULL;
}

int
tls_ctx_leaf_sha256(struct tls_ctx *c, char hex[65])
{
	return tls_cert_leaf_sha256(c->ssl_ctx, hex);
}

SSL *
tls_io_new(struct tls_ctx *c, int fd)
{
	SSL *ssl = SSL_new(c->ssl_ctx);

	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	/* nothing past the client's Finished may sit in OpenSSL's buffer
	 * when the session takes over the records (tls_io_detach) */
	SSL_set_read_ahead(ssl, 0);
	return ssl;
}

int
tls_io_detach(SSL *ssl, struct tls13_engine *e, struct tls13_rec *rec)
{
	struct secrets *k = secrets_idx < 0 ? NULL : SSL_get_ex_data(ssl, secrets_idx);
	const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
	int suite = cipher ? tls13_suite_from_iana(SSL_CIPHER_get_protocol_id(cipher)) : -1;
	int rc = -1;

	if (SSL_version(ssl) == TLS1_3_VERSION && suite >= 0 && k &&
	    k->len[0] == tls13_suite_hash_len(suite) &&
	    k->len[1] == tls13_suite_hash_len(suite) &&
	    SSL_has_pending(ssl) == 0 && SSL_pending(ssl) == 0)
		rc = tls13_rec_init(e, rec, suite, k->s[0], k->s[1], true) ? -1 : 0;
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
	if (rc)
		SSL_set_read_ahead(ssl, 1);	/* OpenSSL keeps the records */
	return rc;
}

void
tls_io_free(SSL *ssl)
{
	SSL_free(ssl);
}

/* Map an OpenSSL result to our convention; remembers the direction. */
static int
io_result(SSL *ssl, int ret)
{
	int e = SSL_get_error(ssl, ret);

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return -EIO;
	}
}

int
tls_io_handshake(SSL *ssl)
{
	int ret;

	ERR_clear_error();
	ret = SSL_do_handshake(ssl);
	if (ret == 1)
		return 0;
	return io_result(ssl, ret) == -EAGAIN ? -EAGAIN : -EPROTO;
}

ssize_t
tls_io_read(SSL *ssl, void *buf, size_t len)
{
	size_t n = 0;
	int ret;

	ERR_clear_error();
	ret = SSL_read_ex(ssl, buf, len, &n);
	if (ret == 1)
		return (ssize_t)n;
	return io_result(ssl, ret);
}

ssize_t
tls_io_write(SSL *ssl, const void *buf, size_t len)
{
	size_t n = 0;
	int ret, rc;

	ERR_clear_error();
	ret = SSL_write_ex(ssl, buf, len, &n);
	if (ret == 1)
		return (ssize_t)n;
	rc = io_result(ssl, ret);
	return rc == 0 ? -EIO : rc;
}

bool
tls_io_wants_write(SSL *ssl)
{
	return SSL_want_write(ssl);
}

const char *
tls_io_version(SSL *ssl)
{
	return SSL_get_version(ssl);
}

bool
tls_io_pending(SSL *ssl)
{
	return SSL_has_pending(ssl) == 1;
}

void
tls_io_shutdown(SSL *ssl)
{
	ERR_clear_error();
	if (SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	ERR_clear_error();
}
