/* SPDX-License-Identifier: BSD-3-Clause */
/* The TLS 1.3 record layer of established sessions; see record.h. */
#include "tls/keyfile.h"
#include "tls/record.h"
#include "tls/test_hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>

enum {
	HS_KEY_UPDATE = 24,
	ALERT_WARNING = 1,
	ALERT_FATAL = 2,
	ALERT_CLOSE_NOTIFY = 0,
	ALERT_USER_CANCELED = 90,
};

static const struct suite_info {
	const char *cipher;
	size_t key_len, hash_len;
	uint16_t iana;
} suites[TLS13_SUITE_NB] = {
	[TLS13_AES_128_GCM_SHA256] = {"AES-128-GCM", 16, 32, 0x1301},
	[TLS13_AES_256_GCM_SHA384] = {"AES-256-GCM", 32, 48, 0x1302},
	[TLS13_CHACHA20_POLY1305_SHA256] = {"ChaCha20-Poly1305", 32, 32, 0x1303},
};

size_t
tls13_suite_hash_len(int suite)
{
	return suite >= 0 && suite < TLS13_SUITE_NB ? suites[suite].hash_len : 0;
}

int
tls13_suite_from_iana(uint16_t id)
{
	for (int i = 0; i < TLS13_SUITE_NB; i++)
		if (suites[i].iana == id)
			return i;
	return -1;
}

int
tls13_engine_init(struct tls13_engine *e)
{
	memset(e, 0, sizeof(*e));
	e->enc_key.suite = e->dec_key.suite = -1;
	e->enc = EVP_CIPHER_CTX_new();
	e->dec = EVP_CIPHER_CTX_new();
	for (int i = 0; i < TLS13_SUITE_NB; i++)
		e->cipher[i] = EVP_CIPHER_fetch(NULL, suites[i].cipher, NULL);
	e->kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
	e->scratch_cap = tls13_sealed_max(TLS13_WRITE_CHUNK);
	e->scratch = malloc(e->scratch_cap);
	if (!e->enc || !e->dec || !e->kdf || !e->scratch) {
		tls13_engine_uninit(e);
		return -ENOMEM;
	}
	for (int i = 0; i < TLS13_SUITE_NB; i++)
		if (!e->cipher[i]) {
			tls13_engine_uninit(e);
			return -ENOTSUP;
		}
	return 0;
}

void
tls13_engine_uninit(struct tls13_engine *e)
{
	EVP_CIPHER_CTX_free(e->enc);
	EVP_CIPHER_CTX_free(e->dec);
	EVP_KDF_free(e->kdf);
	for (int i = 0; i < TLS13_SUITE_NB; i++)
		EVP_CIPHER_free(e->cipher[i]);
	free(e->scratch);
	memset(e, 0, sizeof(*e));
}

/* HKDF-Expand-Label(secret, label, "", n) (RFC 8446 §7.1), by OpenSSL's
 * TLS13-KDF in expand-only mode. */
static int
expand_label(struct tls13_engine *e, int suite, const uint8_t *secret,
	     const char *label, uint8_t *out, size_t n)
{
	EVP_KDF_CTX *k = EVP_KDF_CTX_new(e->kdf);
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, rc;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						 suites[suite].hash_len == 48 ? "SHA384" : "SHA256", 0),
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret,
						  suites[suite].hash_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, "tls13 ", 6),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, (void *)label,
						  strlen(label)),
		OSSL_PARAM_construct_end(),
	};

	if (!k)
		return -ENOMEM;
	rc = EVP_KDF_derive(k, out, n, p) == 1 ? 0 : -EIO;
	EVP_KDF_CTX_free(k);
	return rc;
}

static int
dir_derive(struct tls13_engine *e, struct tls13_dir *d, int suite)
{
	if (expand_label(e, suite, d->secret, "key", d->key, suites[suite].key_len) ||
	    expand_label(e, suite, d->secret, "iv", d->iv, sizeof(d->iv)))
		return -EIO;
	d->seq = 0;
	d->serial = ++e->next_serial;
	return 0;
}

/* application_traffic_secret_N+1 (RFC 8446 §7.2) */
static int
dir_update(struct tls13_engine *e, struct tls13_dir *d, int suite)
{
	uint8_t next[TLS13_MAX_SECRET];
	size_t hl = suites[suite].hash_len;

	if (expand_label(e, suite, d->secret, "traffic upd", next, hl))
		return -EIO;
	memcpy(d->secret, next, hl);
	OPENSSL_cleanse(next, sizeof(next));
	return dir_derive(e, d, suite);
}

int
tls13_rec_init(struct tls13_engine *e, struct tls13_rec *rec, int suite,
	       const uint8_t *client_secret, const uint8_t *server_secret,
	       bool server)
{
	size_t hl;

	memset(rec, 0, sizeof(*rec));
	if (suite < 0 || suite >= TLS13_SUITE_NB)
		return -EINVAL;
	hl = suites[suite].hash_len;
	rec->suite = (uint8_t)suite;
	rec->rekey_after = TLS13_REKEY_RECORDS;
	memcpy(rec->rd.secret, server ? client_secret : server_secret, hl);
	memcpy(rec->wr.secret, server ? server_secret : client_secret, hl);
	if (dir_derive(e, &rec->rd, suite) || dir_derive(e, &rec->wr, suite)) {
		tls13_rec_free(rec);
		return -EIO;
	}
	return 0;
}

void
tls13_rec_free(struct tls13_rec *rec)
{
	free(rec->part);
	free(rec->wq);
	OPENSSL_cleanse(rec, sizeof(*rec));
}

int
tls13_keylog_parse(const char *line, int *which,
		   uint8_t secret[TLS13_MAX_SECRET], size_t *len)
{
	static const char *const labels[2] = {"CLIENT_TRAFFIC_SECRET_0 ",
					      "SERVER_TRAFFIC_SECRET_0 "};
	const char *p = NULL, *sp;
	size_t n;

	for (int i = 0; i < 2; i++)
		if (strncmp(line, labels[i], strlen(labels[i])) == 0) {
			*which = i;
			p = line + strlen(labels[i]);
		}
	if (!p || !(sp = strchr(p, ' ')) || sp - p != 64)
		return -1;
	p = sp + 1;
	n = strlen(p);
	if (n != 64 && n != 96)
		return -1;
	if (tls_hex_decode(p, n / 2, secret))
		return -1;
	*len = n / 2;
	return 0;
}

static void
nonce(const struct tls13_dir *d, uint8_t out[12])
{
	memcpy(out, d->iv, 12);
	for (int i = 0; i < 8; i++)
		out[4 + i] ^= (uint8_t)(d->seq >> (56 - 8 * i));
}

/* Key the thread's context for d unless it already holds d's key, and set
 * the record's nonce, in one call. A context that holds the suite's cipher
 * is keyed in place (cipher NULL): passing the cipher again would free and
 * reallocate the provider's context, which costs more than the key
 * schedule when consecutive records belong to different sessions. */
static int
keyed(struct tls13_engine *e, void *ctx, struct tls13_keyed *k,
      const struct tls13_dir *d, int suite, int enc)
{
	const EVP_CIPHER *cipher = k->suite == suite ? NULL : e->cipher[suite];
	const uint8_t *key = cipher || k->serial != d->serial ? d->key : NULL;
	uint8_t iv[12];

	nonce(d, iv);
	if (EVP_CipherInit_ex2(ctx, cipher, key, iv, enc, NULL) != 1) {
		*k = (struct tls13_keyed){.suite = -1};
		return -EIO;
	}
	*k = (struct tls13_keyed){.serial = d->serial, .suite = suite};
	return 0;
}

/* One record whose inner plaintext is p1 || p2: header, ciphertext, tag.
 * Returns its size, 0 if the library failed. */
static size_t
seal_parts(struct tls13_engine *e, struct tls13_rec *rec, const uint8_t *p1,
	   size_t n1, const uint8_t *p2, size_t n2, uint8_t *out)
{
	size_t body = n1 + n2 + TLS13_TAG;
	uint8_t *c = out + TLS13_HEADER;
	int n;

	out[0] = TLS13_CT_APPDATA;
	out[1] = 3;
	out[2] = 3;
	out[3] = (uint8_t)(body >> 8);
	out[4] = (uint8_t)body;
	if (keyed(e, e->enc, &e->enc_key, &rec->wr, rec->suite, 1) ||
	    EVP_EncryptUpdate(e->enc, NULL, &n, out, TLS13_HEADER) != 1 ||
	    (n1 && EVP_EncryptUpdate(e->enc, c, &n, p1, (int)n1) != 1) ||
	    (n2 && EVP_EncryptUpdate(e->enc, c + n1, &n, p2, (int)n2) != 1) ||
	    EVP_EncryptFinal_ex(e->enc, c + n1 + n2, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(e->enc, EVP_CTRL_AEAD_GET_TAG, TLS13_TAG,
				c + n1 + n2) != 1)
		return 0;
	rec->wr.seq++;
	return TLS13_HEADER + body;
}

static size_t
seal_record(struct tls13_engine *e, struct tls13_rec *rec, uint8_t type,
	    const uint8_t *data, size_t len, uint8_t *out)
{
	return seal_parts(e, rec, data, len, &type, 1, out);
}

size_t
tls13_seal_inner(struct tls13_engine *e, struct tls13_rec *rec,
		 const uint8_t *inner, size_t len, uint8_t *out)
{
	return len <= TLS13_MAX_CIPHER - TLS13_TAG ?
	       seal_parts(e, rec, inner, len, NULL, 0, out) : 0;
}

/* Our KeyUpdate, when the peer asked for one or this key has done enough:
 * its size, 0 when none is due, -EIO. */
static ssize_t
maybe_key_update(struct tls13_engine *e, struct tls13_rec *rec, uint8_t *out)
{
	static const uint8_t ku[5] = {HS_KEY_UPDATE, 0, 0, 1, 0};
	size_t n;

	if (!(rec->flags & TLS13_KU_DUE) && rec->wr.seq < rec->rekey_after)
		return 0;
	n = seal_record(e, rec, TLS13_CT_HANDSHAKE, ku, sizeof(ku), out);
	if (!n || dir_update(e, &rec->wr, rec->suite))
		return -EIO;
	rec->flags &= (uint8_t)~TLS13_KU_DUE;
	rec->key_updates_out++;
	return (ssize_t)n;
}

size_t
tls13_sealed_max(size_t len)
{
	size_t records = len / TLS13_MAX_PLAIN + 1;

	return len + records * (TLS13_HEADER + 1 + TLS13_TAG) +
	       (records + 1) * (TLS13_HEADER + 5 + 1 + TLS13_TAG);
}

ssize_t
tls13_seal(struct tls13_engine *e, struct tls13_rec *rec, const uint8_t *data,
	   size_t len, uint8_t *out)
{
	ssize_t o = maybe_key_update(e, rec, out), k;

	while (o >= 0 && len) {
		size_t n = len < TLS13_MAX_PLAIN ? len : TLS13_MAX_PLAIN;
		size_t r = seal_record(e, rec, TLS13_CT_APPDATA, data, n, out + o);

		if (!r)
			return -EIO;
		o += (ssize_t)r;
		data += n;
		len -= n;
		if (len) {
			k = maybe_key_update(e, rec, out + o);
			o = k < 0 ? k : o + k;
		}
	}
	return o;
}

/* A record broke the protocol: remember the fatal alert we owe the peer
 * (sent by tls13_read, RFC 8446 §6: an error is reported before closing). */
static int
fail(struct tls13_rec *rec, uint8_t alert)
{
	rec->alert = alert;
	return -EPROTO;
}

/* Post-handshake messages from the client: only KeyUpdate, whole, and last
 * in its record (RFC 8446 §5.1: no handshake message spans a key change).
 * A broken one sets the alert it deserves (§4.6.3, §6.2). */
static int
on_handshake(struct tls13_engine *e, struct tls13_rec *rec, const uint8_t *p,
	     size_t n)
{
	if (n < 4 || p[0] != HS_KEY_UPDATE)
		return fail(rec, TLS13_ALERT_UNEXPECTED_MESSAGE);
	if (n != 5 || p[1] || p[2] || p[3] != 1)
		return fail(rec, TLS13_ALERT_DECODE_ERROR);
	if (p[4] > 1)
		return fail(rec, TLS13_ALERT_ILLEGAL_PARAMETER);
	if (dir_update(e, &rec->rd, rec->suite))
		return fail(rec, TLS13_ALERT_INTERNAL_ERROR);
	if (p[4])
		rec->flags |= TLS13_KU_DUE;
	rec->key_updates_in++;
	return 0;
}

int
tls13_open(struct tls13_engine *e, struct tls13_rec *rec, uint8_t *buf,
	   size_t len, size_t *used, size_t *plain)
{
	size_t off = 0, out = 0;
	unsigned int updates = 0;
	int rc = 0;

	while (!(rec->flags & TLS13_EOF) && len - off >= TLS13_HEADER) {
		uint8_t hdr[TLS13_HEADER], *body = buf + off + TLS13_HEADER;
		size_t blen = (size_t)buf[off + 3] << 8 | buf[off + 4], pl;
		uint8_t type;
		int n;

		if (buf[off] != TLS13_CT_APPDATA) {
			rc = fail(rec, TLS13_ALERT_UNEXPECTED_MESSAGE);
			break;
		}
		if (blen > TLS13_MAX_CIPHER) {
			rc = fail(rec, TLS13_ALERT_RECORD_OVERFLOW);
			break;
		}
		if (blen < TLS13_TAG + 1) {
			rc = fail(rec, TLS13_ALERT_DECODE_ERROR);
			break;
		}
		if (len - off - TLS13_HEADER < blen)
			break;
		memcpy(hdr, buf + off, TLS13_HEADER);
		pl = blen - TLS13_TAG;
		if (keyed(e, e->dec, &e->dec_key, &rec->rd, rec->suite, 0) ||
		    EVP_CIPHER_CTX_ctrl(e->dec, EVP_CTRL_AEAD_SET_TAG, TLS13_TAG,
					body + pl) != 1 ||
		    EVP_DecryptUpdate(e->dec, NULL, &n, hdr, TLS13_HEADER) != 1 ||
		    EVP_DecryptUpdate(e->dec, body, &n, body, (int)pl) != 1 ||
		    EVP_DecryptFinal_ex(e->dec, body + pl, &n) != 1) {
			rc = fail(rec, TLS13_ALERT_BAD_RECORD_MAC);
			break;
		}
		rec->rd.seq++;
		off += TLS13_HEADER + blen;
		while (pl && body[pl - 1] == 0)
			pl--;
		if (blen - TLS13_TAG > TLS13_MAX_PLAIN + 1) {
			rc = fail(rec, TLS13_ALERT_RECORD_OVERFLOW);
			break;
		}
		if (pl == 0) {	/* no content type (§5.4) */
			rc = fail(rec, TLS13_ALERT_UNEXPECTED_MESSAGE);
			break;
		}
		type = body[--pl];
		if (type == TLS13_CT_APPDATA) {
			memmove(buf + out, body, pl);
			out += pl;
		} else if (type == TLS13_CT_ALERT && pl == 2 &&
			   body[1] == ALERT_CLOSE_NOTIFY) {
			rec->flags |= TLS13_EOF;
		} else if (type == TLS13_CT_ALERT && pl == 2 &&
			   body[1] == ALERT_USER_CANCELED) {
			continue;	/* a close_notify follows */
		} else if (type == TLS13_CT_HANDSHAKE) {
			/* each KeyUpdate costs an HMAC: a peer sending them back
			 * to back is burning our CPU, not protecting its keys */
			if (++updates > TLS13_MAX_UPDATES_PER_READ) {
				rc = fail(rec, TLS13_ALERT_UNEXPECTED_MESSAGE);
				break;
			}
			rc = on_handshake(e, rec, body, pl);
			if (rc)
				break;
		} else if (type == TLS13_CT_ALERT) {
			rc = -EPROTO;	/* the peer's error: nothing to answer */
			break;
		} else {
			rc = fail(rec, TLS13_ALERT_UNEXPECTED_MESSAGE);
			break;
		}
	}
	*used = off;
	*plain = out;
	return rc;
}

/* Write until done or EAGAIN: bytes sent, or -EIO. */
static ssize_t
send_some(int fd, const uint8_t *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = send(fd, p + done, n - done, MSG_NOSIGNAL);

		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		return -EIO;
	}
	return (ssize_t)done;
}

/* Send what is queued; 1 while some is left, 0 when empty, -EIO. */
static int
drain_queue(struct tls13_rec *rec, int fd)
{
	ssize_t w;

	if (rec->wq_off == rec->wq_len)
		return 0;
	w = send_some(fd, rec->wq + rec->wq_off, rec->wq_len - rec->wq_off);
	if (w < 0)
		return -EIO;
	rec->wq_off += (uint32_t)w;
	if (rec->wq_off < rec->wq_len)
		return 1;
	free(rec->wq);
	rec->wq = NULL;
	rec->wq_len = rec->wq_off = 0;
	return 0;
}

/* An alert record after what is queued, best effort (never blocks); then
 * nothing more is written. */
static void
send_alert(struct tls13_engine *e, struct tls13_rec *rec, int fd,
	   uint8_t level, uint8_t desc)
{
	const uint8_t alert[2] = {level, desc};
	uint8_t out[TLS13_HEADER + 2 + 1 + TLS13_TAG];
	size_t n;

	if (rec->flags & TLS13_CLOSED || drain_queue(rec, fd))
		return;
	n = seal_record(e, rec, TLS13_CT_ALERT, alert, sizeof(alert), out);
	if (n)
		(void)send_some(fd, out, n);
	rec->flags |= TLS13_CLOSED;
}

ssize_t
tls13_read(struct tls13_engine *e, struct tls13_rec *rec, int fd, uint8_t *buf,
	   size_t cap)
{
	if (cap < TLS13_MIN_READ_BUF)
		return -EINVAL;
	rec->flags &= (uint8_t)~TLS13_DRAINED;
	for (;;) {
		size_t have = rec->part_len, used, plain;
		ssize_t n;
		int rc;

		if (rec->flags & TLS13_EOF)
			return 0;
		if (have)
			memcpy(buf, rec->part, have);
		n = recv(fd, buf + have, cap - have, 0);
		if (n == 0)
			return 0;	/* end of stream (a partial record is lost) */
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -EAGAIN : -EIO;
		if ((size_t)n < cap - have)
			rec->flags |= TLS13_DRAINED;	/* and no recv follows */
		have += (size_t)n;
		rc = tls13_open(e, rec, buf, have, &used, &plain);
		if (rc) {
			if (rec->alert)
				send_alert(e, rec, fd, ALERT_FATAL, rec->alert);
			return rc;
		}
		if (have - used != rec->part_len) {
			uint8_t *p = NULL;

			if (have > used && !(p = malloc(have - used)))
				return -ENOMEM;
			free(rec->part);
			rec->part = p;
		}
		/* the partial record moves to the front of the next read */
		if (have > used)
			memmove(rec->part, buf + used, have - used);
		rec->part_len = (uint32_t)(have - used);
		if (rec->flags & TLS13_EOF) {
			free(rec->part);
			rec->part = NULL;
			rec->part_len = 0;
		}
		if (plain)
			return (ssize_t)plain;
		if (rec->flags & TLS13_DRAINED)
			return -EAGAIN;	/* the rest of the record is on its way */
	}
}

ssize_t
tls13_write(struct tls13_engine *e, struct tls13_rec *rec, int fd,
	    const uint8_t *data, size_t len)
{
	size_t n, sealed;
	ssize_t w;
	int rc;

	if (rec->flags & TLS13_CLOSED)
		return -EIO;
	rc = drain_queue(rec, fd);
	if (rc)
		return rc < 0 ? rc : -EAGAIN;
	if (rec->wq_plain) {
		/* the batch the caller is retrying has gone out */
		n = rec->wq_plain;
		rec->wq_plain = 0;
		return n <= len ? (ssize_t)n : -EIO;
	}
	n = len < TLS13_WRITE_CHUNK ? len : TLS13_WRITE_CHUNK;
	if (n == 0 && !(rec->flags & TLS13_KU_DUE))
		return 0;
	w = tls13_seal(e, rec, data, n, e->scratch);
	if (w < 0)
		return -EIO;
	sealed = (size_t)w;
	w = send_some(fd, e->scratch, sealed);
	if (w < 0)
		return -EIO;
	if ((size_t)w == sealed)
		return (ssize_t)n;
	rec->wq = malloc(sealed - (size_t)w);
	if (!rec->wq)
		return -ENOMEM;
	memcpy(rec->wq, e->scratch + w, sealed - (size_t)w);
	rec->wq_len = (uint32_t)(sealed - (size_t)w);
	rec->wq_off = 0;
	rec->wq_plain = (uint32_t)n;
	return -EAGAIN;
}

bool
tls13_out_pending(const struct tls13_rec *rec)
{
	return rec->wq_off < rec->wq_len || (rec->flags & TLS13_KU_DUE);
}

void
tls13_close_notify(struct tls13_engine *e, struct tls13_rec *rec, int fd)
{
	send_alert(e, rec, fd, ALERT_WARNING, ALERT_CLOSE_NOTIFY);
}
