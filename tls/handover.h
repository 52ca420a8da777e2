/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hand-over of an established TLS 1.3 session from OpenSSL to the
 * relay's own record layer (tls/record.h), after which the SSL object is
 * freed.
 *
 * OpenSSL's key log callback is the public way to see a handshake's
 * application traffic secrets; they are kept as ex data of the SSL until the
 * hand-over takes them. The record layer starts both directions at
 * sequence number zero with those secrets, so the hand-over is refused
 * (OpenSSL keeps the session) unless nothing has used them yet and nothing
 * will need OpenSSL later:
 *   - TLS 1.3 with a suite the record layer knows, and both secrets seen;
 *   - no record of the client's past its Finished buffered inside OpenSSL;
 *   - no session tickets: a NewSessionTicket would be a record OpenSSL
 *     sealed with our write key (sequence 0 taken);
 *   - no early data: 0-RTT records use other keys and may be replayed;
 *   - no post-handshake client authentication: a CertificateRequest after
 *     the handshake is a conversation only OpenSSL could continue.
 * The relay's context turns all three off (tls_ctx_create); the check is
 * what keeps a later change to the context from corrupting sessions.
 */
#ifndef DERPER_TLS_HANDOVER_H
#define DERPER_TLS_HANDOVER_H

struct ssl_st;
struct ssl_ctx_st;
struct tls13_engine;
struct tls13_rec;

/* Capture the traffic secrets of the context's handshakes. 0 or -ENOMEM.
 * Any thread; before the context is shared. */
int tls_handover_install(struct ssl_ctx_st *ctx);

/*
 * After the handshake: hand the session's records to rec so the SSL object
 * can be freed. 0 when done; -1 when OpenSSL keeps the session (see above).
 * The captured secrets are wiped either way. The session's TLS thread.
 */
int tls_handover(struct ssl_st *ssl, struct tls13_engine *e,
		 struct tls13_rec *rec);

#endif /* DERPER_TLS_HANDOVER_H */
