/* SPDX-License-Identifier: BSD-3-Clause */
/* The ACME client thread; see acme.h. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <rte_telemetry.h>

#include "config/addr.h"
#include "config/validate.h"
#include "control/prom.h"
#include "control/acme.h"
#include "control/acme_crypto.h"
#include "control/acme_msg.h"
#include "control/json_body.h"
#include "base/log.h"
#include "tls/acme_challenge.h"
#include "tls/cert.h"
#include "tls/keyfile.h"
#include "tls/tls.h"
#include "tls/tls_conn.h"

enum {
	BODY_MAX = 1 << 20,
	NONCE_TRIES = 5,
	POLL_TIMEOUT_S = 120,
	BACKOFF_MIN_S = 60,
	BACKOFF_MAX_S = 30 * 60,
	ERR_LEN = 256,
};

struct http_resp {
	long code;
	char *body;
	size_t len;
	char nonce[256];
	char location[ACME_URL_LEN];
	char retry_after[64];
};

static struct acme {
	const struct derper_config *cfg;
	pthread_t thread;
	bool running;
	int wake_fd;			/* stop or renew-now */
	_Atomic int stop;
	_Atomic int renew_now;
	CURL *curl;
	struct curl_slist *jose_hdr;

	EVP_PKEY *account;
	char kid[ACME_URL_LEN];
	char jwk[256];			/* {"crv":..,"kty":..,"x":..,"y":..} */
	char thumbprint[64];
	struct acme_directory dir;
	char nonce[256];

	/* state for /derper/acme and /metrics: written by the thread only
	 * under lock (it reads its own writes without); others read under lock */
	pthread_mutex_t lock;
	time_t not_after, not_before, next_attempt;
	unsigned int failures;
	long server_wait_s;		/* Retry-After of the last problem */
	uint64_t issued;
	char last_error[ERR_LEN];
	char challenge[16];
} acme = {.wake_fd = -1};

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http_resp *r = arg;
	size_t len = size * n;
	char *b;

	if (r->len + len > BODY_MAX)
		return 0;	/* aborts the transfer */
	b = realloc(r->body, r->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, p, len);
	r->body = b;
	r->len += len;
	b[r->len] = '\0';
	return len;
}

static void
header_value(const char *line, size_t n, const char *name, char *out,
	     size_t outlen)
{
	size_t nl = strlen(name);

	if (n <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	line += nl + 1;
	n -= nl + 1;
	while (n && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	if (n < outlen) {
		memcpy(out, line, n);
		out[n] = '\0';
	}
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http_resp *r = arg;
	size_t len = size * n;

	header_value(p, len, "Replay-Nonce", r->nonce, sizeof(r->nonce));
	header_value(p, len, "Location", r->location, sizeof(r->location));
	header_value(p, len, "Retry-After", r->retry_after, sizeof(r->retry_after));
	return len;
}

static int
on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return atomic_load(&acme.stop) ? 1 : 0;
}

static void
resp_free(struct http_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* GET (post == NULL), HEAD (head) or POST a JWS. 0 with r->code set, or
 * -1 with the transport error in err. */
static int
http_do(const char *url, const char *post, bool head, struct http_resp *r,
	char *err, size_t errlen)
{
	CURL *c = acme.curl;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "derper-dpdk/" DERPER_VERSION " (ACME)");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (*acme.cfg->cert.acme_ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, acme.cfg->cert.acme_ca_file);
	if (head)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (post) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, acme.jose_hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
		resp_free(r);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Keys and JWS (RFC 7515, ES256)                                       */

static EVP_PKEY *
load_or_create_account(char *err, size_t errlen)
{
	char path[CFG_PATH_LEN + 32];
	EVP_PKEY *k = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/acme_account.key", acme.cfg->cert.dir);
	f = fopen(path, "r");
	if (f) {
		struct stat st;

		/* as the server key: a private key others can read is refused */
		if (fstat(fileno(f), &st) == 0 &&
		    tls_secret_mode_check(path, &st, err, errlen)) {
			fclose(f);
			return NULL;
		}
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (!k || !EVP_PKEY_is_a(k, "EC")) {
			EVP_PKEY_free(k);
			snprintf(err, errlen, "%s is not an EC private key", path);
			return NULL;
		}
		return k;
	}
	rc = tls_mkdir_p(acme.cfg->cert.dir, 0700);
	k = rc ? NULL : EVP_EC_gen("P-256");
	if (!k || tls_cert_write_key(path, k)) {
		EVP_PKEY_free(k);
		snprintf(err, errlen, "cannot create %s", path);
		return NULL;
	}
	LOG_INFO("acme: account key created", "file=\"%s\"", path);
	return k;
}

static int
fresh_nonce(char *err, size_t errlen)
{
	struct http_resp r;

	if (http_do(acme.dir.new_nonce, NULL, true, &r, err, errlen))
		return -1;
	snprintf(acme.nonce, sizeof(acme.nonce), "%s", r.nonce);
	resp_free(&r);
	if (!*acme.nonce) {
		snprintf(err, errlen, "newNonce gave no Replay-Nonce");
		return -1;
	}
	return 0;
}

/*
 * POST a JWS to url: payload is JSON text, or NULL for POST-as-GET. Uses
 * the account's kid once known, its JWK before. Retries a badNonce.
 * 0 with the response (any status), -1 on a transport error.
 */
static int
post(const char *url, const char *payload, struct http_resp *r, char *err,
     size_t errlen)
{
	for (int tries = 0; tries < NONCE_TRIES; tries++) {
		char prot64[2048], pay64[8192], sig64[128], *body;
		json_t *prot, *jws;
		char *pj, *signing;
		struct acme_problem pb;
		size_t pl = payload ? strlen(payload) : 0;
		int rc;

		if (!*acme.nonce && fresh_nonce(err, errlen))
			return -1;
		prot = *acme.kid ?
			json_pack("{s:s, s:s, s:s, s:s}", "alg", "ES256", "nonce", acme.nonce,
				  "url", url, "kid", acme.kid) :
			json_pack("{s:s, s:s, s:s, s:o}", "alg", "ES256", "nonce", acme.nonce,
				  "url", url, "jwk", json_loads(acme.jwk, 0, NULL));
		pj = prot ? json_dumps(prot, JSON_COMPACT) : NULL;
		json_decref(prot);
		acme.nonce[0] = '\0';	/* a nonce is good for one request */
		if (!pj || !acme_b64url((const uint8_t *)pj, strlen(pj), prot64, sizeof(prot64)) ||
		    (pl && !acme_b64url((const uint8_t *)payload, pl, pay64, sizeof(pay64)))) {
			free(pj);
			snprintf(err, errlen, "JWS does not fit");
			return -1;
		}
		free(pj);
		if (!pl)
			pay64[0] = '\0';
		if (asprintf(&signing, "%s.%s", prot64, pay64) < 0)
			return -1;
		rc = acme_sign_es256(acme.account, signing, sig64, sizeof(sig64));
		free(signing);
		jws = rc ? NULL : json_pack("{s:s, s:s, s:s}", "protected", prot64,
					    "payload", pay64, "signature", sig64);
		body = jws ? json_dumps(jws, JSON_COMPACT) : NULL;
		json_decref(jws);
		if (!body) {
			snprintf(err, errlen, "cannot sign the request");
			return -1;
		}
		rc = http_do(url, body, false, r, err, errlen);
		free(body);
		if (rc)
			return -1;
		snprintf(acme.nonce, sizeof(acme.nonce), "%s", r->nonce);
		if (r->code != 400)
			return 0;
		acme_parse_problem(r->body ? r->body : "", r->len, &pb);
		if (strcmp(pb.type, "urn:ietf:params:acme:error:badNonce"))
			return 0;
		LOG_DEBUG("acme: badNonce, retrying", "try=%d", tries + 1);
		resp_free(r);
	}
	snprintf(err, errlen, "%s: badNonce %d times", url, NONCE_TRIES);
	return -1;
}

/* A non-2xx answer as an error line: the problem's type and detail. */
static void
problem(const char *what, const struct http_resp *r, char *err, size_t errlen)
{
	struct acme_problem pb;

	acme_parse_problem(r->body ? r->body : "", r->len, &pb);
	/* rateLimited and the like: the server's wait beats our backoff */
	acme.server_wait_s = acme_retry_after(r->retry_after, time(NULL));
	snprintf(err, errlen, "%s: HTTP %ld %s%s%s%s%s", what, r->code,
		 pb.type, *pb.detail ? ": " : "", pb.detail,
		 *r->retry_after ? " retry-after=" : "", r->retry_after);
}

/* ------------------------------------------------------------------ */
/* The order                                                            */

static bool
stopping(void)
{
	return atomic_load(&acme.stop) != 0;
}

/* Sleep s seconds or until stop; true when stopping. */
static bool
pause_s(long s)
{
	struct pollfd p = {.fd = acme.wake_fd, .events = POLLIN};

	uint64_t v;

	if (s > 0 && !stopping() &&
	    poll(&p, 1, (int)(s > 3600 ? 3600 * 1000 : s * 1000)) > 0)
		(void)!read(acme.wake_fd, &v, sizeof(v));	/* re-arm */
	return stopping();
}

static int
account(char *err, size_t errlen)
{
	struct http_resp r;
	char payload[512];

	if (*acme.kid)
		return 0;
	if (*acme.cfg->cert.acme_email) {
		char mailto[sizeof(acme.cfg->cert.acme_email) + 8];

		snprintf(mailto, sizeof(mailto), "mailto:%s", acme.cfg->cert.acme_email);
		ctl_json_pack(payload, sizeof(payload), "{s:b, s:[s]}",
			      "termsOfServiceAgreed", 1, "contact", mailto);
	} else {
		ctl_json_pack(payload, sizeof(payload), "{s:b}", "termsOfServiceAgreed", 1);
	}
	if (post(acme.dir.new_account, payload, &r, err, errlen))
		return -1;
	if ((r.code != 200 && r.code != 201) || !*r.location) {
		problem("newAccount", &r, err, errlen);
		resp_free(&r);
		return -1;
	}
	snprintf(acme.kid, sizeof(acme.kid), "%s", r.location);
	resp_free(&r);
	LOG_INFO("acme: account", "kid=\"%s\"", acme.kid);
	return 0;
}

static int
directory(char *err, size_t errlen)
{
	struct http_resp r;
	int rc;

	if (*acme.dir.new_order)
		return 0;
	if (http_do(acme.cfg->cert.acme_directory, NULL, false, &r, err, errlen))
		return -1;
	if (r.code != 200) {
		problem("directory", &r, err, errlen);
		resp_free(&r);
		return -1;
	}
	rc = acme_parse_directory(r.body ? r.body : "", r.len, &acme.dir, err, errlen);
	resp_free(&r);
	return rc;
}

/* POST-as-GET url and parse it as an order or an authorization. */
static int
fetch(const char *url, struct acme_order *o, struct acme_authz *a,
      struct http_resp *keep, char *err, size_t errlen)
{
	struct http_resp r;
	int rc;

	if (post(url, NULL, &r, err, errlen))
		return -1;
	if (r.code != 200) {
		problem(url, &r, err, errlen);
		resp_free(&r);
		return -1;
	}
	rc = o ? acme_parse_order(r.body ? r.body : "", r.len, o, err, errlen) :
		 acme_parse_authz(r.body ? r.body : "", r.len, a, err, errlen);
	if (keep)
		*keep = r;
	else
		resp_free(&r);
	return rc;
}

static long
wait_hint(const struct http_resp *r)
{
	long s = acme_retry_after(r->retry_after, time(NULL));

	return s < 1 ? 1 : s > 10 ? 10 : s;
}

/* Serve the challenge (or none: ch == NULL) to new connections. */
static int
publish(const struct acme_challenge *ch, const char *keyauth, char *err,
	size_t errlen)
{
	struct tls_ctx *ctx = tls_server_new_ctx(err, errlen);
	int rc = 0;

	if (!ctx)
		return -1;
	if (ch && strcmp(ch->type, "http-01") == 0) {
		rc = tls_acme_add_http01(tls_ctx_acme(ctx), ch->token, keyauth);
	} else if (ch) {
		EVP_PKEY *k = EVP_EC_gen("P-256");
		X509 *x = k ? acme_alpn_cert(acme.cfg->hostname, keyauth, k) : NULL;

		rc = x ? tls_acme_set_alpn01(tls_ctx_acme(ctx), acme.cfg->hostname, x, k) : -1;
		X509_free(x);
		EVP_PKEY_free(k);
	}
	if (rc) {
		tls_ctx_put(ctx);
		snprintf(err, errlen, "cannot set up the %s challenge", ch->type);
		return -1;
	}
	return tls_server_set_ctx(ctx);
}

static int
authorize(const char *url, char *err, size_t errlen)
{
	const char *type = acme.cfg->http_port > 0 ? "http-01" : "tls-alpn-01";
	const struct acme_challenge *ch;
	struct acme_authz a;
	struct http_resp r;
	char keyauth[ACME_TOKEN_LEN + 64];
	time_t end = time(NULL) + POLL_TIMEOUT_S;
	int rc;

	if (fetch(url, NULL, &a, NULL, err, errlen))
		return -1;
	if (a.status == ACME_ST_VALID)
		return 0;
	ch = acme_authz_challenge(&a, type);
	if (!ch) {
		snprintf(err, errlen, "%s: no %s challenge offered", a.identifier, type);
		return -1;
	}
	snprintf(keyauth, sizeof(keyauth), "%s.%s", ch->token, acme.thumbprint);
	pthread_mutex_lock(&acme.lock);
	snprintf(acme.challenge, sizeof(acme.challenge), "%s", type);
	pthread_mutex_unlock(&acme.lock);
	if (publish(ch, keyauth, err, errlen))
		return -1;
	if (post(ch->url, "{}", &r, err, errlen))
		return -1;
	rc = r.code == 200 ? 0 : -1;
	if (rc)
		problem("challenge", &r, err, errlen);
	resp_free(&r);
	while (rc == 0) {
		if (fetch(url, NULL, &a, &r, err, errlen))
			return -1;
		if (a.status == ACME_ST_VALID) {
			resp_free(&r);
			break;
		}
		if (a.status != ACME_ST_PENDING || time(NULL) > end) {
			snprintf(err, errlen, "%s: authorization %s (%s): %.120s", a.identifier,
				 a.status == ACME_ST_INVALID ? "invalid" : "not valid in time",
				 type, r.body ? r.body : "");
			for (char *c = err; *c; c++)
				if (*c == '"' || *c == '\n')
					*c = '\'';
			resp_free(&r);
			return -1;
		}
		if (pause_s(wait_hint(&r))) {
			resp_free(&r);
			return -1;
		}
		resp_free(&r);
	}
	return rc;
}

/* One whole order: identifiers, authorizations, finalize, download, save. */
static int
order(char *err, size_t errlen)
{
	const char *host = acme.cfg->hostname;
	char payload[600], crt[CFG_PATH_LEN + CFG_HOST_LEN + 8], keyp[sizeof(crt)];
	char *csr64 = malloc(8192), order_url[ACME_URL_LEN];
	struct acme_order o;
	struct http_resp r = {0};
	EVP_PKEY *key = NULL;
	time_t nb = 0, na = 0, end;
	int rc = -1;

	if (!csr64 || directory(err, errlen) || account(err, errlen))
		goto out;
	ctl_json_pack(payload, sizeof(payload), "{s:[{s:s, s:s}]}", "identifiers",
		      "type", cfg_is_ip_literal(host) ? "ip" : "dns", "value", host);
	if (post(acme.dir.new_order, payload, &r, err, errlen))
		goto out;
	if (r.code != 201 || !*r.location ||
	    acme_parse_order(r.body ? r.body : "", r.len, &o, err, errlen)) {
		if (r.code != 201)
			problem("newOrder", &r, err, errlen);
		goto out;
	}
	snprintf(order_url, sizeof(order_url), "%s", r.location);
	resp_free(&r);
	for (unsigned int i = 0; i < o.nb_authz; i++)
		if (authorize(o.authz[i], err, errlen))
			goto out;
	key = EVP_EC_gen("P-256");
	if (!key || acme_csr(acme.cfg->hostname, key, csr64, 8192)) {
		snprintf(err, errlen, "cannot build the CSR");
		goto out;
	}
	{
		char *fin;

		json_t *f = json_pack("{s:s}", "csr", csr64);

		fin = f ? json_dumps(f, JSON_COMPACT) : NULL;
		json_decref(f);
		if (!fin)
			goto out;
		rc = post(o.finalize, fin, &r, err, errlen);
		free(fin);
		if (rc)
			goto out;
		rc = -1;
	}
	if (r.code != 200) {
		problem("finalize", &r, err, errlen);
		goto out;
	}
	/*
	 * The answer is the order. Until it is valid, wait the server's
	 * Retry-After (1 s without one) before each poll, the first one
	 * included (RFC 8555 7.4): a poll at once only finds "processing",
	 * and pebble's order handler can deadlock with an issuance that
	 * finishes during it (it takes the order's read lock twice).
	 */
	if (acme_parse_order(r.body ? r.body : "", r.len, &o, err, errlen))
		goto out;
	end = time(NULL) + POLL_TIMEOUT_S;
	for (;;) {
		if (o.status == ACME_ST_VALID && *o.certificate)
			break;
		if ((o.status != ACME_ST_PROCESSING && o.status != ACME_ST_READY) ||
		    time(NULL) > end) {
			snprintf(err, errlen, "order did not become valid (status %d)", o.status);
			goto out;
		}
		if (pause_s(wait_hint(&r)))
			goto out;
		resp_free(&r);
		if (fetch(order_url, &o, NULL, &r, err, errlen))
			goto out;
	}
	resp_free(&r);
	if (post(o.certificate, NULL, &r, err, errlen))
		goto out;
	if (r.code != 200 || !r.body || acme_check_chain(acme.cfg->hostname, r.body, r.len, key, &nb, &na)) {
		if (r.code != 200)
			problem("certificate", &r, err, errlen);
		else
			snprintf(err, errlen, "the certificate does not match our key or %s", host);
		goto out;
	}
	tls_cert_paths(acme.cfg, crt, keyp, sizeof(crt));
	if (tls_cert_write_key(keyp, key) ||
	    tls_cert_write_file(crt, 0644, r.body, r.len)) {
		snprintf(err, errlen, "cannot write %s", crt);
		goto out;
	}
	pthread_mutex_lock(&acme.lock);
	acme.not_before = nb;
	acme.not_after = na;
	acme.issued++;
	pthread_mutex_unlock(&acme.lock);
	rc = 0;
out:
	resp_free(&r);
	EVP_PKEY_free(key);
	free(csr64);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Scheduling                                                           */

/* The stored certificate's validity, if it is ours to keep using. */
static bool
stored(time_t *nb, time_t *na)
{
	char crt[CFG_PATH_LEN + CFG_HOST_LEN + 8], key[sizeof(crt)];
	FILE *f;
	char *pem = NULL;
	size_t cap = 0;
	ssize_t n;
	EVP_PKEY *k = NULL;
	bool ok = false;

	tls_cert_paths(acme.cfg, crt, key, sizeof(crt));
	f = fopen(key, "r");
	if (f) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	f = fopen(crt, "r");
	if (k && f) {
		n = getdelim(&pem, &cap, '\0', f);
		ok = n > 0 && acme_check_chain(acme.cfg->hostname, pem, (size_t)n, k, nb, na) == 0;
	}
	if (f)
		fclose(f);
	free(pem);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok;
}

static long
jitter(long range)
{
	uint32_t v = 0;

	if (range <= 0)
		return 0;
	RAND_bytes((uint8_t *)&v, sizeof(v));
	return (long)(v % (uint32_t)range);
}

static void *
acme_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "derper-acme");
	while (!stopping()) {
		time_t nb = 0, na = 0, now = time(NULL), at;
		char err[ERR_LEN] = "";
		bool have = stored(&nb, &na);

		if (have) {
			long life = (long)(na - nb);

			/* a third of the lifetime left, minus up to 1/30 of it */
			at = na - life / 3 - jitter(life / 30 < 86400 ? life / 30 : 86400);
			pthread_mutex_lock(&acme.lock);
			acme.not_before = nb;
			acme.not_after = na;
			pthread_mutex_unlock(&acme.lock);
			if (na - now < life / 6)
				LOG_WARN("acme: certificate expiring", "not_after=%lld in_s=%lld",
					 (long long)na, (long long)(na - now));
		} else {
			at = now;
		}
		if (acme.failures)
			at = acme.next_attempt;		/* backing off */
		pthread_mutex_lock(&acme.lock);
		if (atomic_exchange(&acme.renew_now, 0)) {
			at = now;			/* asked for */
			acme.failures = 0;
		}
		acme.next_attempt = at;
		pthread_mutex_unlock(&acme.lock);
		if (at > now) {
			/* woken (renew, stop) or an hour passed: look again */
			if (pause_s((long)(at - now)))
				break;
			continue;
		}
		acme.server_wait_s = -1;
		LOG_INFO("acme: ordering a certificate", "hostname=\"%s\" directory=\"%s\" challenge=%s",
			 acme.cfg->hostname, acme.cfg->cert.acme_directory,
			 acme.cfg->http_port > 0 ? "http-01" : "tls-alpn-01");
		if (order(err, sizeof(err)) == 0) {
			char ign[128];

			publish(NULL, NULL, ign, sizeof(ign));	/* the new certificate */
			pthread_mutex_lock(&acme.lock);
			acme.failures = 0;
			acme.last_error[0] = '\0';
			pthread_mutex_unlock(&acme.lock);
			LOG_INFO("acme: certificate issued", "hostname=\"%s\" not_after=%lld",
				 acme.cfg->hostname, (long long)acme.not_after);
			continue;
		}
		if (stopping())
			break;
		{
			long back = BACKOFF_MIN_S << (acme.failures < 5 ? acme.failures : 5);
			char ign[128];

			if (back > BACKOFF_MAX_S)
				back = BACKOFF_MAX_S;
			back += jitter(back / 10 + 1);
			if (acme.server_wait_s > back && acme.server_wait_s < 7 * 86400)
				back = acme.server_wait_s;
			/* challenge material off, the current certificate stays */
			publish(NULL, NULL, ign, sizeof(ign));
			acme.nonce[0] = '\0';
			pthread_mutex_lock(&acme.lock);
			acme.failures++;
			acme.next_attempt = time(NULL) + back;
			snprintf(acme.last_error, sizeof(acme.last_error), "%s", err);
			pthread_mutex_unlock(&acme.lock);
			LOG_WARN("acme: issuance failed; the current certificate stays",
				 "error=\"%s\" failures=%u retry_in_s=%ld", err, acme.failures, back);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Telemetry and lifecycle                                              */

static int
tel_acme(const char *cmd, const char *params, struct rte_tel_data *d)
{
	time_t now = time(NULL);

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&acme.lock);
	rte_tel_data_add_dict_string(d, "hostname", acme.cfg ? acme.cfg->hostname : "");
	rte_tel_data_add_dict_int(d, "running", acme.running);
	rte_tel_data_add_dict_u64(d, "not_after", (uint64_t)acme.not_after);
	rte_tel_data_add_dict_int(d, "expires_in_s",
				  acme.not_after ? (int)(acme.not_after - now) : 0);
	rte_tel_data_add_dict_int(d, "next_attempt_in_s",
				  acme.next_attempt > now ? (int)(acme.next_attempt - now) : 0);
	rte_tel_data_add_dict_u64(d, "issued", acme.issued);
	rte_tel_data_add_dict_int(d, "failures", (int)acme.failures);
	rte_tel_data_add_dict_string(d, "challenge", acme.challenge);
	rte_tel_data_add_dict_string(d, "last_error", acme.last_error);
	pthread_mutex_unlock(&acme.lock);
	return 0;
}

static int
tel_renew(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t one = 1;

	(void)cmd;
	(void)params;
	if (!acme.running)
		return -ENOTSUP;
	atomic_store(&acme.renew_now, 1);
	(void)!write(acme.wake_fd, &one, sizeof(one));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "renewal", "requested");
	return 0;
}

int
ctl_acme_start(const struct derper_config *cfg)
{
	char err[ERR_LEN];

	if (cfg->cert.mode != CFG_CERT_LETSENCRYPT || !cfg_serves_tls(cfg))
		return 0;
	acme.cfg = cfg;
	pthread_mutex_init(&acme.lock, NULL);
	acme.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	acme.curl = curl_easy_init();
	acme.jose_hdr = curl_slist_append(NULL, "Content-Type: application/jose+json");
	acme.account = acme.curl ? load_or_create_account(err, sizeof(err)) : NULL;
	if (acme.wake_fd < 0 || !acme.curl || !acme.jose_hdr || !acme.account ||
	    acme_jwk(acme.account, acme.jwk, sizeof(acme.jwk), acme.thumbprint, sizeof(acme.thumbprint))) {
		LOG_ERR("acme: cannot start", "error=\"%s\"",
			acme.account ? "out of memory" : err);
		return -EIO;
	}
	/* the state /derper/acme shows from the first moment (the thread
	 * refines the time with its jitter) */
	if (stored(&acme.not_before, &acme.not_after))
		acme.next_attempt = acme.not_after - (acme.not_after - acme.not_before) / 3;
	else
		acme.next_attempt = time(NULL);
	if (pthread_create(&acme.thread, NULL, acme_main, NULL))
		return -EAGAIN;
	acme.running = true;
	rte_telemetry_register_cmd("/derper/acme", tel_acme,
				   "ACME certificate state (letsencrypt mode)");
	rte_telemetry_register_cmd("/derper/acme_renew", tel_renew,
				   "Order a new certificate now (letsencrypt mode)");
	return 0;
}

void
ctl_acme_stop(void)
{
	uint64_t one = 1;

	if (acme.running) {
		atomic_store(&acme.stop, 1);
		(void)!write(acme.wake_fd, &one, sizeof(one));
		pthread_join(acme.thread, NULL);
		acme.running = false;
	}
	EVP_PKEY_free(acme.account);
	acme.account = NULL;
	curl_slist_free_all(acme.jose_hdr);
	acme.jose_hdr = NULL;
	if (acme.curl)
		curl_easy_cleanup(acme.curl);
	acme.curl = NULL;
	if (acme.wake_fd >= 0)
		close(acme.wake_fd);
	acme.wake_fd = -1;
}

/* ------------------------------------------------------------------ */
/* Metrics and readiness                                                */

void
ctl_acme_metrics(struct prom *p)
{
	if (!acme.running)
		return;
	pthread_mutex_lock(&acme.lock);
	prom_family(p, "derper_certificate_expiry_timestamp_seconds", "gauge",
		    "notAfter of the ACME certificate in service (0: none yet)");
	prom_u64(p, "derper_certificate_expiry_timestamp_seconds", (uint64_t)acme.not_after,
		 "hostname", acme.cfg->hostname, NULL);
	prom_family(p, "derper_acme_issued_total", "counter",
		    "Certificates issued by the ACME server since start");
	prom_u64(p, "derper_acme_issued_total", acme.issued, NULL);
	prom_family(p, "derper_acme_consecutive_failures", "gauge",
		    "ACME orders failed in a row (0 after a success)");
	prom_u64(p, "derper_acme_consecutive_failures", acme.failures, NULL);
	prom_family(p, "derper_acme_next_attempt_timestamp_seconds", "gauge",
		    "When the ACME client orders next (renewal or retry)");
	prom_u64(p, "derper_acme_next_attempt_timestamp_seconds", (uint64_t)acme.next_attempt, NULL);
	pthread_mutex_unlock(&acme.lock);
}

bool
ctl_acme_ready(char *why, size_t n)
{
	bool ok;

	if (!acme.running)
		return true;
	pthread_mutex_lock(&acme.lock);
	ok = acme.not_after > time(NULL);
	pthread_mutex_unlock(&acme.lock);
	if (!ok)
		snprintf(why, n, "no ACME certificate yet (serving a temporary one)");
	return ok;
}
