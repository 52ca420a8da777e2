/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RFC 9112 request line and fields, with Go net/http's leniencies where
 * Tailscale clients may rely on them (bare LF line ends) and without its
 * others (obsolete line folding is refused, as Go does too).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "tls/http.h"

static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool
http_str_eq(struct http_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

bool
http_str_contains(struct http_str s, const char *lit)
{
	size_t n = strlen(lit);

	for (size_t i = 0; i + n <= s.n; i++)
		if (strncasecmp(s.p + i, lit, n) == 0)
			return true;
	return false;
}

size_t
http_head_end(const char *buf, size_t len, size_t from)
{
	/* back up so a terminator split across calls is found */
	size_t i = from > 3 ? from - 3 : 0;

	for (; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Next line of [p, end): returns its length without CRLF/LF; *next set. */
static int
next_line(const char *p, const char *end, const char **next, size_t *n)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));

	if (!lf)
		return -1;
	*n = (size_t)(lf - p);
	if (*n && p[*n - 1] == '\r')
		(*n)--;
	*next = lf + 1;
	/* a CR anywhere else is not a line end we accept */
	return memchr(p, '\r', *n) ? -1 : 0;
}

static int
parse_request_line(const char *p, size_t n, struct http_req *req)
{
	const char *sp1 = memchr(p, ' ', n), *sp2, *q;
	size_t tn;

	if (!sp1 || sp1 == p || sp1 - p > 16)
		return 400;
	for (const char *c = p; c < sp1; c++)
		if (!is_tchar((unsigned char)*c))
			return 400;
	req->method = (struct http_str){p, (uint32_t)(sp1 - p)};
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
	if (!sp2 || sp2 == sp1 + 1)
		return 400;
	tn = (size_t)(sp2 - sp1 - 1);
	for (size_t i = 0; i < tn; i++) {
		unsigned char c = (unsigned char)sp1[1 + i];

		if (c <= 0x20 || c >= 0x7f)
			return 400;
	}
	req->target = (struct http_str){sp1 + 1, (uint32_t)tn};
	if ((size_t)(p + n - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		if ((size_t)(p + n - sp2 - 1) >= 5 && strncmp(sp2 + 1, "HTTP/", 5) == 0)
			return 505;
		return 400;
	}
	if (sp2[8] != '0' && sp2[8] != '1')
		return 505;
	req->minor = (uint8_t)(sp2[8] - '0');

	/* origin-form "/p?q", absolute-form "http://h/p?q", or "*" */
	p = req->target.p;
	n = req->target.n;
	if (n >= 7 && (strncasecmp(p, "http://", 7) == 0 ||
		       (n >= 8 && strncasecmp(p, "https://", 8) == 0))) {
		const char *slash = memchr(p + 8 - (p[4] == ':'), '/',
					   n - (size_t)(8 - (p[4] == ':')));

		if (!slash) {
			req->path = (struct http_str){"/", 1};
			req->query = (struct http_str){"", 0};
			return 0;
		}
		n -= (size_t)(slash - p);
		p = slash;
	} else if (p[0] != '/' && !(n == 1 && p[0] == '*') &&
		   !http_str_eq(req->method, "CONNECT")) {
		return 400;
	}
	q = memchr(p, '?', n);
	req->path = (struct http_str){p, (uint32_t)(q ? (size_t)(q - p) : n)};
	req->query = q ? (struct http_str){q + 1, (uint32_t)(n - (size_t)(q - p) - 1)}
		       : (struct http_str){"", 0};
	return 0;
}

static void
note_header(struct http_req *req, struct http_str name, struct http_str v)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
		{"Host", offsetof(struct http_req, host)},
		{"Upgrade", offsetof(struct http_req, upgrade)},
		{"Connection", offsetof(struct http_req, connection)},
		{"Sec-WebSocket-Key", offsetof(struct http_req, ws_key)},
		{"Sec-WebSocket-Protocol", offsetof(struct http_req, ws_protocol)},
		{"Sec-WebSocket-Version", offsetof(struct http_req, ws_version)},
		{"Derp-Fast-Start", offsetof(struct http_req, fast_start)},
		{"Ideal-Node", offsetof(struct http_req, ideal_node)},
		{"X-Tailscale-Challenge", offsetof(struct http_req, challenge)},
		{"X-Forwarded-For", offsetof(struct http_req, forwarded_for)},
		{"Accept", offsetof(struct http_req, accept)},
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (http_str_eq(name, known[i].name)) {
			/* Go's Header.Get returns the first value */
			struct http_str *dst =
				(struct http_str *)((char *)req + known[i].off);

			if (!dst->p)
				*dst = v;
			return;
		}
	}
}

static int
parse_field(const char *p, size_t n, struct http_req *req,
	    int64_t *content_length)
{
	const char *colon = memchr(p, ':', n);
	struct http_str name, v;
	const char *vs, *ve;

	if (!colon || colon == p)
		return 400;
	for (const char *c = p; c < colon; c++)
		if (!is_tchar((unsigned char)*c))
			return 400;	/* also refuses "Name :" and folding */
	name = (struct http_str){p, (uint32_t)(colon - p)};
	vs = colon + 1;
	ve = p + n;
	while (vs < ve && (*vs == ' ' || *vs == '\t'))
		vs++;
	while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	for (const char *c = vs; c < ve; c++) {
		unsigned char ch = (unsigned char)*c;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 400;
	}
	v = (struct http_str){vs, (uint32_t)(ve - vs)};
	if (http_str_eq(name, "Content-Length")) {
		int64_t cl = 0;

		if (v.n == 0 || v.n > 18)
			return 400;
		for (uint32_t i = 0; i < v.n; i++) {
			if (!isdigit((unsigned char)v.p[i]))
				return 400;
			cl = cl * 10 + (v.p[i] - '0');
		}
		if (*content_length >= 0 && *content_length != cl)
			return 400;
		*content_length = cl;
	} else if (http_str_eq(name, "Transfer-Encoding")) {
		if (!http_str_eq(v, "chunked"))
			return 501;
		req->has_body = true;
	}
	note_header(req, name, v);
	return 0;
}

int
http_parse_request(const char *buf, size_t len, struct http_req *req)
{
	const char *p = buf, *end = buf + len, *next;
	int64_t content_length = -1;
	size_t n;
	int rc;

	memset(req, 0, sizeof(*req));
	if (next_line(p, end, &next, &n))
		return 400;
	rc = parse_request_line(p, n, req);
	if (rc)
		return rc;
	for (p = next; p < end; p = next) {
		if (next_line(p, end, &next, &n))
			return 400;
		if (n == 0)
			break;
		if (*p == ' ' || *p == '\t')
			return 400;	/* obsolete line folding */
		if (++req->nb_headers > HTTP_MAX_HEADERS)
			return 431;
		rc = parse_field(p, n, req, &content_length);
		if (rc)
			return rc;
	}
	if (req->minor == 1 && !req->host.p)
		return 400;	/* as Go: "missing required Host header" */
	if (content_length > 0)
		req->has_body = true;
	req->keep_alive = req->minor == 1 ? !http_str_contains(req->connection, "close")
					  : http_str_contains(req->connection, "keep-alive");
	return 0;
}
