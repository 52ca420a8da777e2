/* SPDX-License-Identifier: BSD-3-Clause */
/* ACME challenge material of a TLS context; see acme_challenge.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

#include "config/config.h"
#include "tls/acme_challenge.h"

enum { ACME_HTTP01_MAX = 8 };

struct tls_acme {
	unsigned int nb_http01;
	struct {
		char token[128];
		char keyauth[256];
	} http01[ACME_HTTP01_MAX];
	X509 *alpn_cert;		/* TLS-ALPN-01 validation certificate */
	EVP_PKEY *alpn_key;
	char alpn_name[CFG_HOST_LEN];
};

static int flag_idx = -1;		/* SSL ex data: acme-tls/1 handshake */
static pthread_once_t flag_once = PTHREAD_ONCE_INIT;

static void
flag_init(void)
{
	flag_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
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
	struct tls_acme *a = arg;
	char sni[CFG_HOST_LEN];

	(void)alert;
	if (!a->alpn_cert || !hello_offers_acme_alpn(ssl))
		return SSL_CLIENT_HELLO_SUCCESS;
	if (!hello_sni(ssl, sni, sizeof(sni)) || strcasecmp(sni, a->alpn_name) ||
	    SSL_use_cert_and_key(ssl, a->alpn_cert, a->alpn_key, NULL, 1) != 1)
		return SSL_CLIENT_HELLO_SUCCESS;
	SSL_set_ex_data(ssl, flag_idx, (void *)1);
	return SSL_CLIENT_HELLO_SUCCESS;
}

struct tls_acme *
tls_acme_new(SSL_CTX *ctx)
{
	struct tls_acme *a;

	pthread_once(&flag_once, flag_init);
	if (flag_idx < 0 || !(a = calloc(1, sizeof(*a))))
		return NULL;
	SSL_CTX_set_client_hello_cb(ctx, client_hello, a);
	return a;
}

void
tls_acme_free(struct tls_acme *a)
{
	if (!a)
		return;
	X509_free(a->alpn_cert);
	EVP_PKEY_free(a->alpn_key);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

int
tls_acme_add_http01(struct tls_acme *a, const char *token, const char *keyauth)
{
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
tls_acme_set_alpn01(struct tls_acme *a, const char *name, X509 *cert,
		    EVP_PKEY *key)
{
	if (!X509_up_ref(cert))
		return -EIO;
	if (!EVP_PKEY_up_ref(key)) {
		X509_free(cert);
		return -EIO;
	}
	X509_free(a->alpn_cert);
	EVP_PKEY_free(a->alpn_key);
	a->alpn_cert = cert;
	a->alpn_key = key;
	snprintf(a->alpn_name, sizeof(a->alpn_name), "%s", name);
	return 0;
}

const char *
tls_acme_http01(const struct tls_acme *a, const char *token, size_t n)
{
	for (unsigned int i = 0; a && i < a->nb_http01; i++)
		if (strlen(a->http01[i].token) == n &&
		    memcmp(a->http01[i].token, token, n) == 0)
			return a->http01[i].keyauth;
	return NULL;
}

bool
tls_acme_alpn(SSL *ssl)
{
	return flag_idx >= 0 && SSL_get_ex_data(ssl, flag_idx) != NULL;
}
