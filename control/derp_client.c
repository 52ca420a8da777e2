/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "control/derp_client.h"
#include "tls/derp_wire.h"
#include "tls/frame.h"
#include "tls/handshake.h"
#include "tls/keyfile.h"

enum { CLIENT_BUF = 2 << 20 };

struct derp_client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int timeout_ms;
	uint8_t priv[DERP_KEY_LEN];
	uint8_t pub[DERP_KEY_LEN];
	uint8_t server_pub[DERP_KEY_LEN];
	uint8_t *buf;		/* received, not yet consumed */
	size_t len;
	bool fast_start;	/* used Derp-Fast-Start */
	int cancel_fd;		/* readable: give up (-1: none) */
	const uint8_t *mesh_key;
};

/* Wait for `events` on fd; -ECANCELED when cancel_fd (>= 0) turns
 * readable first. */
static int
wait_fd(int fd, short events, int timeout_ms, int cancel_fd)
{
	struct pollfd p[2] = {{.fd = fd, .events = events},
			      {.fd = cancel_fd, .events = POLLIN}};
	int n = poll(p, cancel_fd >= 0 ? 2 : 1, timeout_ms);

	if (n > 0 && cancel_fd >= 0 && (p[1].revents & POLLIN))
		return -ECANCELED;
	return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

/* Read some bytes into c->buf. */
static int
fill(struct derp_client *c, int timeout_ms)
{
	ssize_t n;

	if (c->len == CLIENT_BUF)
		return -EPROTO;
	for (;;) {
		if (c->ssl) {
			size_t got = 0;
			int r = SSL_read_ex(c->ssl, c->buf + c->len,
					    CLIENT_BUF - c->len, &got);

			if (r == 1) {
				c->len += got;
				return 0;
			}
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_READ:
				r = wait_fd(c->fd, POLLIN, timeout_ms, c->cancel_fd);
				if (r)
					return r;
				continue;
			case SSL_ERROR_WANT_WRITE:
				r = wait_fd(c->fd, POLLOUT, timeout_ms, c->cancel_fd);
				if (r)
					return r;
				continue;
			default:
				ERR_clear_error();
				return -ECONNRESET;
			}
		}
		n = recv(c->fd, c->buf + c->len, CLIENT_BUF - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			return 0;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN)
			return -errno;
		n = wait_fd(c->fd, POLLIN, timeout_ms, c->cancel_fd);
		if (n)
			return (int)n;
	}
}

static int
write_all(struct derp_client *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n;

		if (c->ssl) {
			size_t w = 0;
			int r = SSL_write_ex(c->ssl, p, len, &w);

			if (r == 1) {
				p += w;
				len -= w;
				continue;
			}
			r = SSL_get_error(c->ssl, r);
			if (r != SSL_ERROR_WANT_WRITE && r != SSL_ERROR_WANT_READ) {
				ERR_clear_error();
				return -ECONNRESET;
			}
			r = wait_fd(c->fd, r == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
				    c->timeout_ms, c->cancel_fd);
			if (r)
				return r;
			continue;
		}
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			int r = wait_fd(c->fd, POLLOUT, c->timeout_ms, c->cancel_fd);

			if (r)
				return r;
		} else {
			return -ECONNRESET;
		}
	}
	return 0;
}

static void
consume(struct derp_client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

int
derp_client_send(struct derp_client *c, uint8_t type, const void *p1,
		 size_t n1, const void *p2, size_t n2)
{
	uint8_t *frame = malloc(DERP_FRAME_HEADER_LEN + n1 + n2);
	int rc;

	if (!frame)
		return -ENOMEM;
	derp_put_header(frame, type, (uint32_t)(n1 + n2));
	if (n1)
		memcpy(frame + DERP_FRAME_HEADER_LEN, p1, n1);
	if (n2)
		memcpy(frame + DERP_FRAME_HEADER_LEN + n1, p2, n2);
	rc = write_all(c, frame, DERP_FRAME_HEADER_LEN + n1 + n2);
	free(frame);
	return rc;
}

int
derp_client_read(struct derp_client *c, uint8_t *type, uint8_t *buf,
		 size_t cap, size_t *len, int timeout_ms)
{
	uint32_t n;
	int rc;

	while (c->len < DERP_FRAME_HEADER_LEN)
		if ((rc = fill(c, timeout_ms)))
			return rc;
	n = (uint32_t)c->buf[1] << 24 | (uint32_t)c->buf[2] << 16 |
	    (uint32_t)c->buf[3] << 8 | c->buf[4];
	if (n > cap || n > CLIENT_BUF - DERP_FRAME_HEADER_LEN)
		return -EPROTO;
	while (c->len < DERP_FRAME_HEADER_LEN + n)
		if ((rc = fill(c, timeout_ms)))
			return rc;
	*type = c->buf[0];
	memcpy(buf, c->buf + DERP_FRAME_HEADER_LEN, n);
	*len = n;
	consume(c, DERP_FRAME_HEADER_LEN + n);
	return 0;
}

static int
dial(const struct derp_client_opts *o, int cancel_fd, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int fd = -1, rc, one = 1;

	rc = getaddrinfo(o->host, o->port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "resolve %s: %s", o->host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS &&
		     wait_fd(fd, POLLOUT, o->timeout_ms, cancel_fd) == 0)) {
			int so = 0;
			socklen_t sl = sizeof(so);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
			if (so == 0)
				break;
			errno = so;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "connect %s:%s: %s", o->host, o->port,
			 strerror(errno));
		return -ECONNREFUSED;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Find derper's meta certificate: CN "derpkey<hex>", serial = version. */
static bool
meta_cert_key(SSL *ssl, uint8_t key[DERP_KEY_LEN])
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);

	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		char cn[128];
		const ASN1_INTEGER *serial = X509_get0_serialNumber(x);

		if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
					      cn, sizeof(cn)) < 0)
			continue;
		if (strncmp(cn, "derpkey", 7) != 0 ||
		    tls_key_from_hex(cn + 7, strlen(cn + 7), key))
			continue;
		if (ASN1_INTEGER_get(serial) > 0)
			return true;
	}
	return false;
}

static bool
is_ip(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1;
}

static int
start_tls(struct derp_client *c, const struct derp_client_opts *o, char *err,
	  size_t errlen)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	const char *sni = o->sni ? o->sni : o->host;
	int r;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_protos(c->ctx, alpn, sizeof(alpn) - 1);
	if (!o->insecure) {
		if (o->ca_file ? SSL_CTX_load_verify_locations(c->ctx, o->ca_file, NULL) != 1
			       : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
			snprintf(err, errlen, "cannot load CA certificates");
			return -EINVAL;
		}
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl)
		return -ENOMEM;
	SSL_set_fd(c->ssl, c->fd);
	if (is_ip(sni)) {
		/* no SNI for addresses (RFC 6066); check the IP SAN */
		if (!o->insecure)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), sni);
	} else {
		SSL_set_tlsext_host_name(c->ssl, sni);
		if (!o->insecure)
			SSL_set1_host(c->ssl, sni);
	}
	for (;;) {
		r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		r = SSL_get_error(c->ssl, r);
		if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c->fd, r == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
				    o->timeout_ms, c->cancel_fd)) {
				snprintf(err, errlen, "TLS handshake timed out");
				return -ETIMEDOUT;
			}
			continue;
		}
		{
			const char *why = ERR_reason_error_string(ERR_get_error());

			snprintf(err, errlen, "TLS handshake failed: %s",
				 why ? why : "peer closed");
		}
		ERR_clear_error();
		return -EPROTO;
	}
}

static int
send_client_info(struct derp_client *c)
{
	char info[160], hex[65];
	uint8_t box[DERP_NONCE_LEN + DERP_BOX_OVERHEAD + sizeof(info)];
	int n;

	if (c->mesh_key) {
		tls_key_hex(c->mesh_key, hex);
		n = snprintf(info, sizeof(info),
			     "{\"version\":2,\"meshKey\":\"%s\",\"CanAckPings\":true}",
			     hex);
		tls_key_wipe(hex, sizeof(hex));
	} else {
		n = snprintf(info, sizeof(info), "{\"version\":2,\"CanAckPings\":true}");
	}
	tls_box_seal(c->priv, c->server_pub, (const uint8_t *)info, (size_t)n, box);
	tls_key_wipe(info, sizeof(info));
	return derp_client_send(c, DERP_FRAME_CLIENT_INFO, c->pub, DERP_KEY_LEN,
				box, DERP_NONCE_LEN + DERP_BOX_OVERHEAD + (size_t)n);
}

static int
upgrade(struct derp_client *c, const struct derp_client_opts *o, bool fast,
	char *err, size_t errlen)
{
	char req[512];
	char *end;
	int n, rc;

	n = snprintf(req, sizeof(req),
		     "GET /derp HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
		     "Connection: Upgrade\r\nUpgrade: DERP\r\n%s\r\n",
		     o->http_host ? o->http_host : o->sni ? o->sni : o->host,
		     o->user_agent ? o->user_agent : "derpprobe",
		     fast ? "Derp-Fast-Start: 1\r\n" : "");
	rc = write_all(c, req, (size_t)n);
	if (rc == 0 && fast)
		rc = send_client_info(c);
	if (rc) {
		snprintf(err, errlen, "sending the upgrade request: %s", strerror(-rc));
		return rc;
	}
	if (fast)
		return 0;
	for (;;) {
		end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
		if (end)
			break;
		rc = fill(c, o->timeout_ms);
		if (rc) {
			snprintf(err, errlen, "waiting for the HTTP answer: %s",
				 strerror(-rc));
			return rc;
		}
	}
	if (c->len < 12 || strncmp((char *)c->buf + 9, "101", 3) != 0) {
		snprintf(err, errlen, "upgrade refused: %.*s",
			 (int)((char *)memchr(c->buf, '\r', c->len) - (char *)c->buf),
			 (char *)c->buf);
		return -EPROTO;
	}
	consume(c, (size_t)(end + 4 - (char *)c->buf));
	return 0;
}

static int
handshake(struct derp_client *c, const struct derp_client_opts *o, bool fast,
	  char *err, size_t errlen)
{
	uint8_t buf[1024], plain[1024];
	size_t len;
	uint8_t type;
	int rc;

	/* fast start skipped the HTTP answer: an error one still comes */
	while (fast && c->len < 5 && (rc = fill(c, o->timeout_ms)) == 0)
		;
	if (fast && c->len >= 5 && memcmp(c->buf, "HTTP/", 5) == 0) {
		char *eol = memchr(c->buf, '\r', c->len);

		snprintf(err, errlen, "upgrade refused: %.*s",
			 eol ? (int)(eol - (char *)c->buf) : 40, (char *)c->buf);
		return -EPROTO;
	}
	rc = derp_client_read(c, &type, buf, sizeof(buf), &len, o->timeout_ms);
	if (rc || type != DERP_FRAME_SERVER_KEY || len < 40 ||
	    memcmp(buf, DERP_MAGIC, DERP_MAGIC_LEN) != 0) {
		snprintf(err, errlen, "no ServerKey frame (%s)",
			 rc ? strerror(-rc) : "wrong frame");
		return -EPROTO;
	}
	if (fast && memcmp(buf + 8, c->server_pub, DERP_KEY_LEN) != 0) {
		snprintf(err, errlen, "ServerKey differs from the meta certificate's key");
		return -EPROTO;
	}
	memcpy(c->server_pub, buf + 8, DERP_KEY_LEN);
	if (!fast && (rc = send_client_info(c))) {
		snprintf(err, errlen, "sending ClientInfo: %s", strerror(-rc));
		return rc;
	}
	rc = derp_client_read(c, &type, buf, sizeof(buf), &len, o->timeout_ms);
	if (rc || type != DERP_FRAME_SERVER_INFO) {
		snprintf(err, errlen, "no ServerInfo (%s): the server refused the client",
			 rc ? strerror(-rc) : "wrong frame");
		return -EPROTO;
	}
	if (tls_box_open(c->priv, c->server_pub, buf, len, plain) < 0) {
		snprintf(err, errlen, "ServerInfo does not open with the server key");
		return -EPROTO;
	}
	return 0;
}

struct derp_client *
derp_client_connect(const struct derp_client_opts *o, char *err, size_t errlen)
{
	struct derp_client *c = calloc(1, sizeof(*c));
	bool fast = false;
	int rc;

	if (!c || !(c->buf = malloc(CLIENT_BUF))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->timeout_ms = o->timeout_ms;
	c->cancel_fd = o->cancel_fd ? *o->cancel_fd : -1;
	c->mesh_key = o->mesh_key;
	tls_crypto_init();
	if (o->priv)
		memcpy(c->priv, o->priv, DERP_KEY_LEN);
	else
		tls_key_generate(c->priv);
	tls_key_public(c->priv, c->pub);
	c->fd = dial(o, c->cancel_fd, err, errlen);
	if (c->fd < 0)
		goto fail;
	if (o->tls) {
		if (start_tls(c, o, err, errlen))
			goto fail;
		fast = o->fast_start && SSL_version(c->ssl) == TLS1_3_VERSION &&
		       meta_cert_key(c->ssl, c->server_pub);
	}
	c->fast_start = fast;
	rc = upgrade(c, o, fast, err, errlen);
	if (rc == 0)
		rc = handshake(c, o, fast, err, errlen);
	if (rc)
		goto fail;
	return c;
fail:
	derp_client_close(c);
	return NULL;
}

const uint8_t *
derp_client_pub(const struct derp_client *c)
{
	return c->pub;
}

const uint8_t *
derp_client_server_pub(const struct derp_client *c)
{
	return c->server_pub;
}

bool
derp_client_fast_start(const struct derp_client *c)
{
	return c->fast_start;
}

const char *
derp_client_tls_version(const struct derp_client *c)
{
	return c->ssl ? SSL_get_version(c->ssl) : "none";
}

int
derp_client_fd(const struct derp_client *c)
{
	return c->fd;
}

void *
derp_client_ssl(const struct derp_client *c)
{
	return c->ssl;
}

size_t
derp_client_take_buffered(struct derp_client *c, uint8_t *out, size_t cap)
{
	size_t n = c->len < cap ? c->len : cap;

	memcpy(out, c->buf, n);
	consume(c, n);
	return n;
}

void
derp_client_close(struct derp_client *c)
{
	if (!c)
		return;
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd > 0)
		close(c->fd);
	tls_key_wipe(c->priv, sizeof(c->priv));
	free(c->buf);
	free(c);
}
