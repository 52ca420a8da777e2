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
#include "tls/acme_challenge.h"
#include "tls/cert.h"
#include "tls/handover.h"
#include "tls/tls_conn.h"

/*
 * Lives as long as its SSL_CTX (ex data freed with it): handshakes still
 * in flight on a replaced context keep using their callbacks' argument.
 */
struct tls_ctx {
	SSL_CTX *ssl_ctx;
	bool sni_strict;			/* DNS hostname, manual/ACME */
	char hostname[CFG_HOST_LEN];
	struct tls_acme *acme;			/* challenge material */
};

static int ctx_idx = -1;		/* SSL_CTX ex data: our struct tls_ctx */
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

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
	if (tls_acme_alpn(ssl)) {
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
	tls_acme_free(c->acme);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static void
ctx_init(void)
{
	ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_free);
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

	pthread_once(&ctx_once, ctx_init);
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
	c->acme = tls_acme_new(ctx);
	if (!c->acme || tls_handover_install(ctx)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
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

struct tls_acme *
tls_ctx_acme(const struct tls_ctx *c)
{
	return c ? c->acme : NULL;
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

void
tls_io_shutdown(SSL *ssl)
{
	ERR_clear_error();
	if (SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	ERR_clear_error();
}
