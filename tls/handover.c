/* SPDX-License-Identifier: BSD-3-Clause */
/* OpenSSL's TLS 1.3 session handed to the record layer; see handover.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "tls/handover.h"
#include "tls/record.h"

/* The application traffic secrets, kept until the hand-over. */
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
secrets_init(void)
{
	secrets_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, secrets_free);
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

int
tls_handover_install(SSL_CTX *ctx)
{
	pthread_once(&secrets_once, secrets_init);
	if (secrets_idx < 0)
		return -ENOMEM;
	SSL_CTX_set_keylog_callback(ctx, keylog);
	return 0;
}

/* Nothing OpenSSL did or may still do needs the keys we take over. */
static bool
nothing_but_records(SSL *ssl)
{
	return SSL_version(ssl) == TLS1_3_VERSION &&
	       SSL_has_pending(ssl) == 0 && SSL_pending(ssl) == 0 &&
	       SSL_get_num_tickets(ssl) == 0 &&
	       SSL_get_max_early_data(ssl) == 0 &&
	       SSL_get_early_data_status(ssl) != SSL_EARLY_DATA_ACCEPTED &&
	       !(SSL_get_verify_mode(ssl) & SSL_VERIFY_POST_HANDSHAKE);
}

int
tls_handover(SSL *ssl, struct tls13_engine *e, struct tls13_rec *rec)
{
	struct secrets *k = secrets_idx < 0 ? NULL : SSL_get_ex_data(ssl, secrets_idx);
	const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
	int suite = cipher ? tls13_suite_from_iana(SSL_CIPHER_get_protocol_id(cipher)) : -1;
	int rc = -1;

	if (suite >= 0 && k && nothing_but_records(ssl) &&
	    k->len[0] == tls13_suite_hash_len(suite) &&
	    k->len[1] == tls13_suite_hash_len(suite))
		rc = tls13_rec_init(e, rec, suite, k->s[0], k->s[1], true) ? -1 : 0;
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
	if (rc)
		SSL_set_read_ahead(ssl, 1);	/* OpenSSL keeps the records */
	return rc;
}
