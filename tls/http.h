/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A strict, bounded HTTP/1.x request-head parser. Pure: no I/O, no
 * allocation; the request's strings point into the caller's buffer.
 * Fuzzed by tests/fuzz/fuzz_http.c.
 */
#ifndef DERPER_TLS_HTTP_H
#define DERPER_TLS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { HTTP_MAX_HEADERS = 100 };

struct http_str {
	const char *p;
	uint32_t n;
};

struct http_req {
	struct http_str method;
	struct http_str target;		/* as sent */
	struct http_str path;		/* target without the query */
	struct http_str query;		/* after '?', may be empty */
	uint8_t minor;			/* HTTP/1.<minor> */
	unsigned int nb_headers;
	/* the headers the relay acts on (last one wins, as Go's Get) */
	struct http_str host;
	struct http_str upgrade;
	struct http_str connection;
	struct http_str ws_key;		/* Sec-WebSocket-Key */
	struct http_str ws_protocol;	/* Sec-WebSocket-Protocol */
	struct http_str ws_version;	/* Sec-WebSocket-Version */
	struct http_str fast_start;	/* Derp-Fast-Start */
	struct http_str ideal_node;	/* Ideal-Node */
	struct http_str challenge;	/* X-Tailscale-Challenge */
	struct http_str forwarded_for;	/* X-Forwarded-For */
	struct http_str accept;		/* Accept (metrics negotiation) */
	bool has_body;			/* Content-Length > 0 or Transfer-Encoding */
	bool keep_alive;		/* connection may serve another request */
};

/*
 * Length of the head (through the empty line) if buf[0..len) holds a
 * complete one, else 0. `from` is where the previous call stopped looking
 * (0 the first time), so a head trickling in byte by byte is scanned once.
 */
size_t http_head_end(const char *buf, size_t len, size_t from);

/*
 * Parse a complete head of `len` bytes (as found by http_head_end).
 * Returns 0, or the HTTP status to answer with before closing:
 * 400 malformed, 431 too many headers, 501 unsupported transfer coding,
 * 505 not HTTP/1.x.
 */
int http_parse_request(const char *buf, size_t len, struct http_req *req);

/* Case-insensitive compare of a header value with a literal. */
bool http_str_eq(struct http_str s, const char *lit);

/* Case-insensitive substring test. */
bool http_str_contains(struct http_str s, const char *lit);

#endif /* DERPER_TLS_HTTP_H */
