/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS 1.3 record layer against OpenSSL's own TLS 1.3 client on a real
 * socket pair: OpenSSL does the server handshake, our tls13_rec takes the
 * records over and the server SSL is freed, as in the relay. Both
 * directions, every suite, KeyUpdate both ways, close_notify both ways;
 * then malformed records through tls13_open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tests/lib/harness.h"
#include "tls/handover.h"
#include "tls/record.h"
#include "tls/test_hooks.h"

static struct tls13_engine eng;

struct keys {
	uint8_t s[2][TLS13_MAX_SECRET];
	size_t len[2];
};

static struct keys captured;

static void
keylog(const SSL *ssl, const char *line)
{
	uint8_t secret[TLS13_MAX_SECRET];
	size_t len;
	int which;

	(void)ssl;
	if (tls13_keylog_parse(line, &which, secret, &len) == 0) {
		memcpy(captured.s[which], secret, len);
		captured.len[which] = len;
	}
}

static SSL_CTX *
server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"derp.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	X509_sign(x, k, NULL);
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, k);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
				      "TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_set_keylog_callback(ctx, keylog);
	X509_free(x);
	EVP_PKEY_free(k);
	return ctx;
}

struct pair {
	int fd[2];		/* [0] server (ours), [1] client (OpenSSL) */
	SSL *client;
	struct tls13_rec rec;
};

/* Handshake OpenSSL server and client over a socket pair, then hand the
 * server's records to p->rec and free the server SSL. */
static int
pair_open(struct pair *p, const char *suite, int expect_suite)
{
	SSL_CTX *sctx = server_ctx(), *cctx = SSL_CTX_new(TLS_client_method());
	SSL *srv;
	int done_s = 0, done_c = 0, rc = -1;

	memset(&captured, 0, sizeof(captured));
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd))
		return -1;
	for (int i = 0; i < 2; i++)
		fcntl(p->fd[i], F_SETFL, O_NONBLOCK);
	SSL_CTX_set_ciphersuites(cctx, suite);
	srv = SSL_new(sctx);
	p->client = SSL_new(cctx);
	SSL_set_fd(srv, p->fd[0]);
	SSL_set_fd(p->client, p->fd[1]);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(p->client);
	for (int i = 0; i < 1000 && !(done_s && done_c); i++) {
		if (!done_c)
			done_c = SSL_do_handshake(p->client) == 1;
		if (!done_s)
			done_s = SSL_do_handshake(srv) == 1;
	}
	if (done_s && done_c && SSL_has_pending(srv) == 0 &&
	    captured.len[0] == tls13_suite_hash_len(expect_suite) &&
	    captured.len[1] == captured.len[0] &&
	    tls13_suite_from_iana(SSL_CIPHER_get_protocol_id(
		    SSL_get_current_cipher(srv))) == expect_suite)
		rc = tls13_rec_init(&eng, &p->rec, expect_suite, captured.s[0],
				    captured.s[1], true);
	SSL_free(srv);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return rc;
}

static void
pair_close(struct pair *p)
{
	SSL_free(p->client);
	tls13_rec_free(&p->rec);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* Our side sends data; OpenSSL's client reads it all back. */
static int
send_to_client(struct pair *p, const uint8_t *data, size_t len)
{
	uint8_t *got = malloc(len + 1);
	size_t sent = 0, recvd = 0;
	long spins = 0;
	int rc = 0;

	while ((sent < len || recvd < len || tls13_out_pending(&p->rec)) &&
	       spins++ < 10000000) {
		size_t r = 0;

		if (sent < len || tls13_out_pending(&p->rec)) {
			ssize_t w = tls13_write(&eng, &p->rec, p->fd[0], data + sent,
						len - sent);

			if (w >= 0)
				sent += (size_t)w;
			else if (w != -EAGAIN) {
				rc = -1;
				break;
			}
		}
		if (recvd < len && SSL_read_ex(p->client, got + recvd, len - recvd, &r) == 1)
			recvd += r;
		else if (recvd < len && SSL_get_error(p->client, 0) != SSL_ERROR_WANT_READ)
			ERR_clear_error();
	}
	if (rc == 0 && (recvd != len || memcmp(got, data, len)))
		rc = -1;
	free(got);
	return rc;
}

/* OpenSSL's client sends data; our side reads it all. */
static int
send_to_server(struct pair *p, const uint8_t *data, size_t len)
{
	uint8_t *buf = malloc(TLS13_MIN_READ_BUF), *got = malloc(len + 1);
	size_t sent = 0, recvd = 0;
	long spins = 0;
	int rc = 0;

	while ((sent < len || recvd < len) && spins++ < 10000000) {
		size_t w = 0;
		ssize_t n;

		if (sent < len && SSL_write_ex(p->client, data + sent, len - sent, &w) == 1)
			sent += w;
		n = tls13_read(&eng, &p->rec, p->fd[0], buf, TLS13_MIN_READ_BUF);
		if (n > 0) {
			if (recvd + (size_t)n > len) {
				rc = -1;
				break;
			}
			memcpy(got + recvd, buf, (size_t)n);
			recvd += (size_t)n;
		} else if (n != -EAGAIN) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && (recvd != len || memcmp(got, data, len)))
		rc = -1;
	free(buf);
	free(got);
	return rc;
}

static uint8_t *
pattern(size_t len)
{
	uint8_t *d = malloc(len);

	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * 7 + (i >> 9));
	return d;
}

/* Every suite the relay offers, by OpenSSL's name and ours. */
static const struct {
	const char *name;
	int suite;
} suites[] = {
	{"TLS_AES_128_GCM_SHA256", TLS13_AES_128_GCM_SHA256},
	{"TLS_AES_256_GCM_SHA384", TLS13_AES_256_GCM_SHA384},
	{"TLS_CHACHA20_POLY1305_SHA256", TLS13_CHACHA20_POLY1305_SHA256},
};

static void
test_suites_both_ways(void)
{
	size_t big = 300000;	/* many records, a full socket buffer */
	uint8_t *data = pattern(big);

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		struct pair p;

		CU_ASSERT_EQUAL_FATAL(pair_open(&p, suites[i].name, suites[i].suite), 0);
		CU_ASSERT_EQUAL(send_to_server(&p, (const uint8_t *)"GET / HTTP/1.1\r\n", 16), 0);
		CU_ASSERT_EQUAL(send_to_client(&p, (const uint8_t *)"x", 1), 0);
		CU_ASSERT_EQUAL(send_to_server(&p, data, big), 0);
		CU_ASSERT_EQUAL(send_to_client(&p, data, big), 0);
		CU_ASSERT_EQUAL(p.rec.key_updates_in, 0);
		CU_ASSERT_EQUAL(p.rec.key_updates_out, 0);
		pair_close(&p);
	}
	free(data);
}

/* The relay's TLS thread seals and opens every session's records with one
 * pair of AEAD contexts (the engine), re-keyed as consecutive records
 * change session: same suite with another key (keyed in place), another
 * suite, the same key again. Interleave sessions record by record. */
static void
test_sessions_interleaved(void)
{
	/* indexes into suites[]: AES-128 twice (same suite, other key),
	 * ChaCha20, AES-128 again, AES-256 */
	static const int order[] = {0, 0, 2, 0, 1};
	enum { N = sizeof(order) / sizeof(order[0]) };
	struct pair p[N];
	uint8_t msg[100];

	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(pair_open(&p[i], suites[order[i]].name,
					       suites[order[i]].suite), 0);
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < N; i++) {
			/* each session's own bytes: a record opened or sealed
			 * under another session's key would fail or differ */
			memset(msg, 'a' + i, sizeof(msg));
			msg[0] = (uint8_t)round;
			CU_ASSERT_EQUAL(send_to_server(&p[i], msg, sizeof(msg)), 0);
			CU_ASSERT_EQUAL(send_to_client(&p[i], msg, sizeof(msg)), 0);
			/* twice in a row on the same key */
			if (round % 3 == 0)
				CU_ASSERT_EQUAL(send_to_client(&p[i], msg, 1), 0);
		}
	for (int i = 0; i < N; i++)
		pair_close(&p[i]);
}

static void
test_key_update_from_client(void)
{
	struct pair p;

	CU_ASSERT_EQUAL_FATAL(pair_open(&p, "TLS_AES_128_GCM_SHA256",
					TLS13_AES_128_GCM_SHA256), 0);
	/* not requested: only the client's key changes */
	CU_ASSERT_EQUAL_FATAL(SSL_key_update(p.client, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	CU_ASSERT_EQUAL(send_to_server(&p, (const uint8_t *)"one", 3), 0);
	CU_ASSERT_EQUAL(p.rec.key_updates_in, 1);
	CU_ASSERT_FALSE(tls13_out_pending(&p.rec));
	CU_ASSERT_EQUAL(send_to_client(&p, (const uint8_t *)"two", 3), 0);
	/* requested: we answer with ours before the next data */
	CU_ASSERT_EQUAL_FATAL(SSL_key_update(p.client, SSL_KEY_UPDATE_REQUESTED), 1);
	CU_ASSERT_EQUAL(send_to_server(&p, (const uint8_t *)"three", 5), 0);
	CU_ASSERT_EQUAL(p.rec.key_updates_in, 2);
	CU_ASSERT_TRUE(tls13_out_pending(&p.rec));
	CU_ASSERT_EQUAL(tls13_write(&eng, &p.rec, p.fd[0], NULL, 0), 0);
	CU_ASSERT_FALSE(tls13_out_pending(&p.rec));
	CU_ASSERT_EQUAL(p.rec.key_updates_out, 1);
	CU_ASSERT_EQUAL(send_to_client(&p, (const uint8_t *)"four", 4), 0);
	CU_ASSERT_EQUAL(send_to_server(&p, (const uint8_t *)"five", 4), 0);
	pair_close(&p);
}

static void
test_own_key_rotation(void)
{
	struct pair p;
	uint8_t *data = pattern(100000);

	CU_ASSERT_EQUAL_FATAL(pair_open(&p, "TLS_AES_256_GCM_SHA384",
					TLS13_AES_256_GCM_SHA384), 0);
	p.rec.rekey_after = 2;		/* instead of 2^24 records */
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(send_to_client(&p, data + i * 100, 100), 0);
	/* two records per key: an update before the 3rd, 5th, 7th, 9th */
	CU_ASSERT_EQUAL(p.rec.key_updates_out, 4);
	/* seven records in one batch: updates before the 1st, 3rd, 5th, 7th */
	CU_ASSERT_EQUAL(send_to_client(&p, data, 100000), 0);
	CU_ASSERT_EQUAL(p.rec.key_updates_out, 8);
	CU_ASSERT_EQUAL(send_to_server(&p, data, 1000), 0);
	pair_close(&p);
	free(data);
}

static void
test_close_notify(void)
{
	uint8_t buf[TLS13_MIN_READ_BUF], b[16];
	struct pair p;
	size_t r = 0;
	long spins = 0;
	ssize_t n = -EAGAIN;

	/* client closes: we read the end of the stream */
	CU_ASSERT_EQUAL_FATAL(pair_open(&p, "TLS_AES_128_GCM_SHA256",
					TLS13_AES_128_GCM_SHA256), 0);
	CU_ASSERT(SSL_shutdown(p.client) >= 0);
	while (n == -EAGAIN && spins++ < 1000000)
		n = tls13_read(&eng, &p.rec, p.fd[0], buf, sizeof(buf));
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT(p.rec.flags & TLS13_EOF);
	pair_close(&p);

	/* we close: the client sees close_notify, not a truncation */
	CU_ASSERT_EQUAL_FATAL(pair_open(&p, "TLS_AES_128_GCM_SHA256",
					TLS13_AES_128_GCM_SHA256), 0);
	tls13_close_notify(&eng, &p.rec, p.fd[0]);
	CU_ASSERT_EQUAL(SSL_read_ex(p.client, b, sizeof(b), &r), 0);
	CU_ASSERT_EQUAL(SSL_get_error(p.client, 0), SSL_ERROR_ZERO_RETURN);
	CU_ASSERT_EQUAL(tls13_write(&eng, &p.rec, p.fd[0], b, 1), -EIO);
	pair_close(&p);
}

/* A record split across reads waits for its tail. */
static void
test_partial_records(void)
{
	uint8_t buf[TLS13_MIN_READ_BUF], rec[TLS13_MAX_RECORD];
	struct tls13_rec client;
	struct pair p;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(pair_open(&p, "TLS_CHACHA20_POLY1305_SHA256",
					TLS13_CHACHA20_POLY1305_SHA256), 0);
	/* the client's side, from the same secrets */
	CU_ASSERT_EQUAL_FATAL(tls13_rec_init(&eng, &client, p.rec.suite,
					     captured.s[0], captured.s[1], false), 0);
	{
		const uint8_t inner[] = {'a', 'b', 'c', TLS13_CT_APPDATA, 0, 0, 0};

		n = tls13_seal_inner(&eng, &client, inner, sizeof(inner), rec);
	}
	CU_ASSERT_EQUAL(n, TLS13_HEADER + 7 + TLS13_TAG);
	for (size_t cut = 1; cut < 4; cut++) {
		CU_ASSERT_EQUAL(write(p.fd[1], rec, cut), (ssize_t)cut);
		CU_ASSERT_EQUAL(tls13_read(&eng, &p.rec, p.fd[0], buf, sizeof(buf)), -EAGAIN);
		/* the short read said the socket is empty: no second recv */
		CU_ASSERT(p.rec.flags & TLS13_DRAINED);
		CU_ASSERT_EQUAL(write(p.fd[1], rec + cut, n - cut), (ssize_t)(n - cut));
		CU_ASSERT_EQUAL(tls13_read(&eng, &p.rec, p.fd[0], buf, sizeof(buf)), 3);
		CU_ASSERT_EQUAL(memcmp(buf, "abc", 3), 0);
		CU_ASSERT_EQUAL(p.rec.part_len, 0);
		CU_ASSERT_PTR_NULL(p.rec.part);
		{
			const uint8_t inner[] = {'a', 'b', 'c', TLS13_CT_APPDATA};

			n = tls13_seal_inner(&eng, &client, inner, sizeof(inner), rec);
		}
	}
	CU_ASSERT_EQUAL(tls13_read(&eng, &p.rec, p.fd[0], buf, 100), -EINVAL);
	tls13_rec_free(&client);
	pair_close(&p);
}

/* Records that break the rules, straight into tls13_open. */
static int
open_one(const uint8_t *inner, size_t len, int tamper, size_t *plain,
	 struct tls13_rec *srv)
{
	static const uint8_t cs[32] = {1}, ss[32] = {2};
	struct tls13_rec cl;
	uint8_t buf[TLS13_MAX_RECORD + 64];
	size_t n, used;
	int rc;

	tls13_rec_init(&eng, &cl, TLS13_AES_128_GCM_SHA256, cs, ss, false);
	tls13_rec_init(&eng, srv, TLS13_AES_128_GCM_SHA256, cs, ss, true);
	n = tls13_seal_inner(&eng, &cl, inner, len, buf);
	if (tamper == 1)
		buf[n - 1] ^= 1;		/* the tag */
	if (tamper == 2)
		buf[0] = TLS13_CT_HANDSHAKE;	/* outer type */
	if (tamper == 3)
		buf[1] = 0;			/* the header is the AAD */
	rc = tls13_open(&eng, srv, buf, n, &used, plain);
	if (rc == 0 && used != n)
		rc = -ERANGE;
	tls13_rec_free(&cl);
	return rc;
}

static void
test_bad_records(void)
{
	static const uint8_t app[] = {'h', 'i', TLS13_CT_APPDATA, 0, 0};
	static const uint8_t zeros[] = {0, 0, 0};
	static const uint8_t fatal[] = {2, 40, TLS13_CT_ALERT};
	static const uint8_t notify[] = {1, 0, TLS13_CT_ALERT};
	static const uint8_t ticket[] = {4, 0, 0, 1, 0, TLS13_CT_HANDSHAKE};
	static const uint8_t ku_bad[] = {24, 0, 0, 1, 2, TLS13_CT_HANDSHAKE};
	static const uint8_t ku_more[] = {24, 0, 0, 1, 0, 24, 0, 0, 1, 0, TLS13_CT_HANDSHAKE};
	static const uint8_t ku[] = {24, 0, 0, 1, 1, TLS13_CT_HANDSHAKE};
	static const uint8_t ccs[] = {1, TLS13_CT_CCS};
	static const uint8_t empty[] = {TLS13_CT_APPDATA};
	uint8_t *big = calloc(1, TLS13_MAX_PLAIN + 2);
	struct tls13_rec srv;
	size_t plain = 99;

	CU_ASSERT_EQUAL(open_one(app, sizeof(app), 0, &plain, &srv), 0);
	CU_ASSERT_EQUAL(plain, 2);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(app, sizeof(app), 3, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_BAD_RECORD_MAC);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(empty, sizeof(empty), 0, &plain, &srv), 0);
	CU_ASSERT_EQUAL(plain, 0);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(app, sizeof(app), 1, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_BAD_RECORD_MAC);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(app, sizeof(app), 2, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_UNEXPECTED_MESSAGE);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(zeros, sizeof(zeros), 0, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_UNEXPECTED_MESSAGE);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(fatal, sizeof(fatal), 0, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, 0);	/* the peer's alert is not answered */
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(notify, sizeof(notify), 0, &plain, &srv), 0);
	CU_ASSERT(srv.flags & TLS13_EOF);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(ticket, sizeof(ticket), 0, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_UNEXPECTED_MESSAGE);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(ku_bad, sizeof(ku_bad), 0, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_ILLEGAL_PARAMETER);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(ku_more, sizeof(ku_more), 0, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_DECODE_ERROR);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(ccs, sizeof(ccs), 0, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_UNEXPECTED_MESSAGE);
	tls13_rec_free(&srv);
	CU_ASSERT_EQUAL(open_one(ku, sizeof(ku), 0, &plain, &srv), 0);
	CU_ASSERT_EQUAL(srv.key_updates_in, 1);
	CU_ASSERT(srv.flags & TLS13_KU_DUE);
	tls13_rec_free(&srv);
	{
		/* a flood of KeyUpdates in one batch is refused */
		static const uint8_t cs[32] = {1}, ss[32] = {2};
		struct tls13_rec cl;
		uint8_t *buf = malloc(64 * 64);
		size_t n = 0, used;

		tls13_rec_init(&eng, &cl, TLS13_AES_128_GCM_SHA256, cs, ss, false);
		tls13_rec_init(&eng, &srv, TLS13_AES_128_GCM_SHA256, cs, ss, true);
		for (int i = 0; i < 9; i++) {
			/* a KeyUpdate, and the client moves to its next key */
			cl.flags |= TLS13_KU_DUE;
			n += (size_t)tls13_seal(&eng, &cl, NULL, 0, buf + n);
		}
		CU_ASSERT_EQUAL(tls13_open(&eng, &srv, buf, n, &used, &plain), -EPROTO);
		CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_UNEXPECTED_MESSAGE);
		CU_ASSERT_EQUAL(srv.key_updates_in, TLS13_MAX_UPDATES_PER_READ);
		tls13_rec_free(&cl);
		tls13_rec_free(&srv);
		free(buf);
	}
	/* 2^14 bytes of content is the most a record may carry */
	big[TLS13_MAX_PLAIN] = TLS13_CT_APPDATA;
	CU_ASSERT_EQUAL(open_one(big, TLS13_MAX_PLAIN + 1, 0, &plain, &srv), 0);
	CU_ASSERT_EQUAL(plain, TLS13_MAX_PLAIN);
	tls13_rec_free(&srv);
	big[TLS13_MAX_PLAIN] = 0;
	big[TLS13_MAX_PLAIN + 1] = TLS13_CT_APPDATA;
	CU_ASSERT_EQUAL(open_one(big, TLS13_MAX_PLAIN + 2, 0, &plain, &srv), -EPROTO);
	CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_RECORD_OVERFLOW);
	tls13_rec_free(&srv);
	free(big);
	{
		/* a header announcing more than 2^14 + 256 bytes */
		uint8_t h[TLS13_HEADER] = {TLS13_CT_APPDATA, 3, 3, 0x41, 0x01};
		size_t used;
		static const uint8_t k[32];

		tls13_rec_init(&eng, &srv, TLS13_AES_128_GCM_SHA256, k, k, true);
		CU_ASSERT_EQUAL(tls13_open(&eng, &srv, h, sizeof(h), &used, &plain), -EPROTO);
		CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_RECORD_OVERFLOW);
		h[3] = 0;
		h[4] = TLS13_TAG;	/* no room for the content type */
		CU_ASSERT_EQUAL(tls13_open(&eng, &srv, h, sizeof(h), &used, &plain), -EPROTO);
		CU_ASSERT_EQUAL(srv.alert, TLS13_ALERT_DECODE_ERROR);
		tls13_rec_free(&srv);
	}
}

/* A broken record on the socket: the peer gets the fatal alert (here
 * OpenSSL's client reports bad_record_mac), then nothing more is sent. */
static void
test_alert_sent(void)
{
	uint8_t buf[TLS13_MIN_READ_BUF], rec[TLS13_MAX_RECORD], b[16];
	struct tls13_rec client;
	struct pair p;
	size_t n, r = 0;
	unsigned long e;

	CU_ASSERT_EQUAL_FATAL(pair_open(&p, "TLS_AES_128_GCM_SHA256",
					TLS13_AES_128_GCM_SHA256), 0);
	CU_ASSERT_EQUAL_FATAL(tls13_rec_init(&eng, &client, p.rec.suite,
					     captured.s[0], captured.s[1], false), 0);
	{
		const uint8_t inner[] = {'a', 'b', 'c', TLS13_CT_APPDATA};

		n = tls13_seal_inner(&eng, &client, inner, sizeof(inner), rec);
	}
	rec[n - 1] ^= 1;
	CU_ASSERT_EQUAL(write(p.fd[1], rec, n), (ssize_t)n);
	CU_ASSERT_EQUAL(tls13_read(&eng, &p.rec, p.fd[0], buf, sizeof(buf)), -EPROTO);
	CU_ASSERT(p.rec.flags & TLS13_CLOSED);
	CU_ASSERT_EQUAL(SSL_read_ex(p.client, b, sizeof(b), &r), 0);
	CU_ASSERT_EQUAL(SSL_get_error(p.client, 0), SSL_ERROR_SSL);
	e = ERR_peek_last_error();
	CU_ASSERT_EQUAL(ERR_GET_REASON(e), SSL_R_SSLV3_ALERT_BAD_RECORD_MAC);
	ERR_clear_error();
	CU_ASSERT_EQUAL(tls13_write(&eng, &p.rec, p.fd[0], b, 1), -EIO);
	tls13_rec_free(&client);
	pair_close(&p);
}

/* A handshake with a server context that `tweak` changes, then
 * tls_handover on the server side: its result. */
static int
handover_after(void (*tweak)(SSL_CTX *))
{
	SSL_CTX *sctx = server_ctx(), *cctx = SSL_CTX_new(TLS_client_method());
	struct tls13_rec rec;
	int fd[2], done_s = 0, done_c = 0, rc = -2;
	SSL *srv, *cl;

	CU_ASSERT_EQUAL_FATAL(tls_handover_install(sctx), 0);
	if (tweak)
		tweak(sctx);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	for (int i = 0; i < 2; i++)
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
	srv = SSL_new(sctx);
	cl = SSL_new(cctx);
	SSL_set_fd(srv, fd[0]);
	SSL_set_fd(cl, fd[1]);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cl);
	SSL_set_read_ahead(srv, 0);
	for (int i = 0; i < 1000 && !(done_s && done_c); i++) {
		if (!done_c)
			done_c = SSL_do_handshake(cl) == 1;
		if (!done_s)
			done_s = SSL_do_handshake(srv) == 1;
	}
	if (done_s && done_c) {
		rc = tls_handover(srv, &eng, &rec);
		if (rc == 0)
			tls13_rec_free(&rec);
	}
	SSL_free(srv);
	SSL_free(cl);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	close(fd[0]);
	close(fd[1]);
	return rc;
}

static void
with_tickets(SSL_CTX *ctx)
{
	SSL_CTX_set_num_tickets(ctx, 2);
}

static void
with_early_data(SSL_CTX *ctx)
{
	SSL_CTX_set_max_early_data(ctx, 16384);
}

static void
with_post_handshake_auth(SSL_CTX *ctx)
{
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE, NULL);
}

/* The record layer takes over only a session that nothing but records will
 * follow: tickets, early data and post-handshake auth keep OpenSSL. */
static void
test_handover_checks(void)
{
	CU_ASSERT_EQUAL(handover_after(NULL), 0);
	CU_ASSERT_EQUAL(handover_after(with_tickets), -1);
	CU_ASSERT_EQUAL(handover_after(with_early_data), -1);
	CU_ASSERT_EQUAL(handover_after(with_post_handshake_auth), -1);
}

static void
test_keylog_parse(void)
{
	char line[256];
	uint8_t s[TLS13_MAX_SECRET];
	size_t len = 0;
	int which = -1;

	snprintf(line, sizeof(line), "SERVER_TRAFFIC_SECRET_0 %064d %s", 0,
		 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1F");
	CU_ASSERT_EQUAL(tls13_keylog_parse(line, &which, s, &len), 0);
	CU_ASSERT_EQUAL(which, 1);
	CU_ASSERT_EQUAL(len, 32);
	CU_ASSERT_EQUAL(s[31], 0x1f);
	line[0] = 'C';
	memcpy(line, "CLIENT", 6);
	CU_ASSERT_EQUAL(tls13_keylog_parse(line, &which, s, &len), 0);
	CU_ASSERT_EQUAL(which, 0);
	line[strlen(line) - 1] = 'g';
	CU_ASSERT_EQUAL(tls13_keylog_parse(line, &which, s, &len), -1);
	line[strlen(line) - 1] = '\0';
	CU_ASSERT_EQUAL(tls13_keylog_parse(line, &which, s, &len), -1);
	CU_ASSERT_EQUAL(tls13_keylog_parse("CLIENT_HANDSHAKE_TRAFFIC_SECRET 00 11",
					   &which, s, &len), -1);
	CU_ASSERT_EQUAL(tls13_keylog_parse("CLIENT_TRAFFIC_SECRET_0 00 11",
					   &which, s, &len), -1);
	CU_ASSERT_EQUAL(tls13_suite_from_iana(0x1303), TLS13_CHACHA20_POLY1305_SHA256);
	CU_ASSERT_EQUAL(tls13_suite_from_iana(0xc02f), -1);
}

static int
init(void)
{
	return tls13_engine_init(&eng);
}

static int
cleanup(void)
{
	tls13_engine_uninit(&eng);
	return 0;
}

static CU_TestInfo tests[] = {
	{"every suite, both directions, against OpenSSL", test_suites_both_ways},
	{"sessions interleaved on one engine", test_sessions_interleaved},
	{"KeyUpdate from the client, requested or not", test_key_update_from_client},
	{"our own key rotation", test_own_key_rotation},
	{"close_notify both ways", test_close_notify},
	{"records split across reads", test_partial_records},
	{"malformed records", test_bad_records},
	{"a fatal alert for a broken record", test_alert_sent},
	{"hand-over refused with tickets, early data, post-handshake auth", test_handover_checks},
	{"key log lines", test_keylog_parse},
	CU_TEST_INFO_NULL,
};

int
main(void)
{
	return harness_run("tls/record", tests, init, cleanup);
}
