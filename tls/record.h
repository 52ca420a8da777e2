/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS 1.3 record layer (RFC 8446 §5, §4.6.3, §7) for established
 * sessions. OpenSSL does the handshake; once it is over, a TLS 1.3 session
 * hands its traffic secrets to a tls13_rec and the SSL object (about 14 KiB
 * in OpenSSL 3.0) is freed. What a session keeps is the keys, the IVs, the
 * sequence numbers and the bytes of a record not yet complete: about 250
 * bytes when idle.
 *
 * The AEAD contexts belong to the thread (struct tls13_engine) and are
 * re-keyed only when the next record belongs to another session or key.
 * Records are opened in place in the caller's buffer, and sealed into the
 * engine's scratch. KeyUpdate is honoured both ways: a peer's update
 * rotates the read key and, when asked, ours; our own key is also rotated
 * before TLS13_REKEY_RECORDS records (RFC 8446 §5.5 limit for AES-GCM).
 *
 * Errors: -EAGAIN (socket), -EIO (socket error), -EPROTO (a record broke the
 * protocol: bad length, bad tag, unexpected type, a fatal alert), -ENOMEM.
 */
#ifndef DERPER_TLS_RECORD_H
#define DERPER_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum tls13_suite {
	TLS13_AES_128_GCM_SHA256,
	TLS13_AES_256_GCM_SHA384,
	TLS13_CHACHA20_POLY1305_SHA256,
	TLS13_SUITE_NB,
};

enum {
	TLS13_HEADER = 5,
	TLS13_TAG = 16,
	TLS13_MAX_PLAIN = 1 << 14,
	TLS13_MAX_CIPHER = TLS13_MAX_PLAIN + 256,	/* record body */
	TLS13_MAX_RECORD = TLS13_HEADER + TLS13_MAX_CIPHER,
	TLS13_MAX_SECRET = 48,
	/* tls13_read needs room for a whole record */
	TLS13_MIN_READ_BUF = TLS13_MAX_RECORD,
	/* plaintext sealed per tls13_write call */
	TLS13_WRITE_CHUNK = 4 * TLS13_MAX_PLAIN,
};

#define TLS13_REKEY_RECORDS (UINT64_C(1) << 24)

/* More KeyUpdates than this in one batch of received records is abuse. */
#define TLS13_MAX_UPDATES_PER_READ 8

enum tls13_content {
	TLS13_CT_CCS = 20,
	TLS13_CT_ALERT = 21,
	TLS13_CT_HANDSHAKE = 22,
	TLS13_CT_APPDATA = 23,
};

/* Fatal alerts we send when a record breaks the protocol (RFC 8446 §6.2). */
enum tls13_alert {
	TLS13_ALERT_UNEXPECTED_MESSAGE = 10,
	TLS13_ALERT_BAD_RECORD_MAC = 20,
	TLS13_ALERT_RECORD_OVERFLOW = 22,
	TLS13_ALERT_ILLEGAL_PARAMETER = 47,
	TLS13_ALERT_DECODE_ERROR = 50,
	TLS13_ALERT_INTERNAL_ERROR = 80,
};

/* One direction's protection state. */
struct tls13_dir {
	uint8_t secret[TLS13_MAX_SECRET];	/* traffic secret (for KeyUpdate) */
	uint8_t key[32];
	uint8_t iv[12];
	uint64_t seq;
	uint64_t serial;		/* names this key in the engine's cache */
};

enum tls13_flags {
	TLS13_KU_DUE = 1 << 0,		/* peer asked: send our KeyUpdate */
	TLS13_EOF = 1 << 1,		/* close_notify received */
	TLS13_CLOSED = 1 << 2,		/* close_notify sent */
	TLS13_DRAINED = 1 << 3,		/* tls13_read's last recv was short */
};

struct tls13_rec {
	uint8_t suite;			/* enum tls13_suite */
	uint8_t flags;			/* enum tls13_flags */
	uint8_t alert;			/* enum tls13_alert owed, 0: none */
	struct tls13_dir rd, wr;
	uint64_t rekey_after;		/* our records per key */
	uint8_t *part;			/* a record not yet complete */
	uint32_t part_len;
	uint8_t *wq;			/* sealed bytes the socket has not taken */
	uint32_t wq_len, wq_off;
	uint32_t wq_plain;		/* caller's bytes these records carry */
	uint64_t key_updates_in, key_updates_out;
};

/* What an engine's AEAD context holds: a suite's cipher (-1: none yet)
 * and the key named `serial` (0: none). */
struct tls13_keyed {
	uint64_t serial;
	int suite;
};

/* Per thread: AEAD contexts and the sealing scratch. */
struct tls13_engine {
	void *enc, *dec;		/* EVP_CIPHER_CTX */
	void *kdf;			/* EVP_KDF TLS13-KDF */
	void *cipher[TLS13_SUITE_NB];	/* EVP_CIPHER */
	struct tls13_keyed enc_key, dec_key;
	uint64_t next_serial;
	uint8_t *scratch;		/* sealed records before the socket */
	size_t scratch_cap;
};

int tls13_engine_init(struct tls13_engine *e);
void tls13_engine_uninit(struct tls13_engine *e);

/* Hash length of a suite's HKDF (32 or 48). */
size_t tls13_suite_hash_len(int suite);

/* Suite for an IANA cipher suite number (0x1301...), -1 if unsupported. */
int tls13_suite_from_iana(uint16_t id);

/*
 * Set up rec from the client's and the server's application traffic
 * secrets (CLIENT_/SERVER_TRAFFIC_SECRET_0), with both sequence numbers at
 * zero. server: we are the server (we read with the client's secret).
 */
int tls13_rec_init(struct tls13_engine *e, struct tls13_rec *rec, int suite,
		   const uint8_t *client_secret, const uint8_t *server_secret,
		   bool server);
void tls13_rec_free(struct tls13_rec *rec);

/*
 * Parse one NSS key log line ("LABEL <client random hex> <secret hex>").
 * Returns 0 and the secret (its length in *len) for CLIENT_TRAFFIC_SECRET_0
 * (*which = 0) and SERVER_TRAFFIC_SECRET_0 (*which = 1); -1 otherwise.
 */
int tls13_keylog_parse(const char *line, int *which,
		       uint8_t secret[TLS13_MAX_SECRET], size_t *len);

/*
 * Open the complete records at the front of buf[0..len) in place. The
 * application data is moved to buf[0..*plain); *used is how many input
 * bytes were whole records. Stops after close_notify (TLS13_EOF set).
 * 0 or -EPROTO, with rec->alert the alert owed (0 after the peer's own
 * fatal alert). No I/O: the parser the fuzz target drives.
 */
int tls13_open(struct tls13_engine *e, struct tls13_rec *rec, uint8_t *buf,
	       size_t len, size_t *used, size_t *plain);

/*
 * Seal len bytes (at most TLS13_WRITE_CHUNK) as application data records
 * into out (room: tls13_sealed_max(len)), a KeyUpdate first when one is
 * due. Returns the bytes written to out, -EIO if the library failed.
 */
ssize_t tls13_seal(struct tls13_engine *e, struct tls13_rec *rec,
		  const uint8_t *data, size_t len, uint8_t *out);
size_t tls13_sealed_max(size_t len);

/*
 * Socket I/O, with tls_io_read/tls_io_write's contract: read returns >0
 * bytes of application data, 0 at the end of the stream, -EPROTO when a
 * record broke the protocol, after the fatal alert it calls for (rec->alert)
 * has been sent, best effort; write returns the
 * bytes taken, or -EAGAIN when the socket is full, after which the caller
 * retries with the same bytes (a partly sent batch is finished first).
 * A write of 0 bytes flushes what is due (KeyUpdate, a partial batch).
 * cap must be at least TLS13_MIN_READ_BUF.
 *
 * A recv that returns less than it was offered emptied the socket: read
 * sets TLS13_DRAINED then (it is cleared on entry) and, when
 * that recv left only part of a record, returns -EAGAIN without trying
 * the socket again (a caller that knows the peer's FIN has come calls
 * again to read the end of the stream).
 * Under edge-triggered epoll the next byte to arrive raises a new event,
 * so the caller need not read on until EAGAIN.
 */
ssize_t tls13_read(struct tls13_engine *e, struct tls13_rec *rec, int fd,
		   uint8_t *buf, size_t cap);
ssize_t tls13_write(struct tls13_engine *e, struct tls13_rec *rec, int fd,
		    const uint8_t *data, size_t len);

/* Sealed bytes waiting for the socket, or a KeyUpdate due. */
bool tls13_out_pending(const struct tls13_rec *rec);

/* Send close_notify (best effort, never blocks). */
void tls13_close_notify(struct tls13_engine *e, struct tls13_rec *rec, int fd);

#endif /* DERPER_TLS_RECORD_H */
