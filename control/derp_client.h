/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A blocking DERP client: TCP, TLS (OpenSSL, SNI, certificate checks
 * unless told otherwise), the HTTP upgrade, the NaCl handshake, frames.
 * Used by derpprobe and the mesh links; each call has a timeout so a
 * probe never hangs, and a connect can be cancelled.
 */
#ifndef DERPER_CONTROL_DERP_CLIENT_H
#define DERPER_CONTROL_DERP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct derp_client;

struct derp_client_opts {
	const char *host;	/* to dial */
	const char *port;	/* "443" */
	const char *sni;	/* TLS server name; NULL = host */
	bool tls;
	bool insecure;		/* skip certificate verification */
	const char *ca_file;	/* trust these CAs instead of the system's */
	bool fast_start;	/* Derp-Fast-Start with the key from a meta cert */
	int timeout_ms;
	const char *http_host;	/* Host header; NULL = sni, else host */
	const char *user_agent;	/* NULL = "derpprobe" */
	const uint8_t *priv;	/* client key to use; NULL = a fresh one */
	const uint8_t *mesh_key;	/* sent in ClientInfo; NULL = none */
	const int *cancel_fd;	/* readable: connect gives up; NULL = none */
};

/* Connect and complete the DERP handshake. NULL with the reason in err. */
struct derp_client *derp_client_connect(const struct derp_client_opts *o,
					char *err, size_t errlen);

/* This client's public key and the server's. */
const uint8_t *derp_client_pub(const struct derp_client *c);
const uint8_t *derp_client_server_pub(const struct derp_client *c);
const char *derp_client_tls_version(const struct derp_client *c);
bool derp_client_fast_start(const struct derp_client *c);

/* Send one frame. 0 or -errno. */
int derp_client_send(struct derp_client *c, uint8_t type, const void *p1,
		     size_t n1, const void *p2, size_t n2);

/* Read one frame into buf (payloads larger than cap are an error).
 * 0, -ETIMEDOUT, -ECONNRESET (closed) or -EPROTO. */
int derp_client_read(struct derp_client *c, uint8_t *type, uint8_t *buf,
		     size_t cap, size_t *len, int timeout_ms);

void derp_client_close(struct derp_client *c);

/* For load generators that drive many clients from one poll loop: the
 * socket, the SSL object (NULL on plain HTTP) and bytes already read
 * past the handshake (consumed by this call). */
int derp_client_fd(const struct derp_client *c);
void *derp_client_ssl(const struct derp_client *c);
size_t derp_client_take_buffered(struct derp_client *c, uint8_t *out, size_t cap);

#endif /* DERPER_CONTROL_DERP_CLIENT_H */
