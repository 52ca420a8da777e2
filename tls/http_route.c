/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tls/http_route.h"

/* tsweb's AddBrowserHeaders, sent with the home page and robots.txt. */
#define BROWSER_HEADERS                                                     \
	"Content-Security-Policy: default-src 'self'; frame-ancestors 'none'; " \
	"form-action 'self'; base-uri 'self'; block-all-mixed-content; "    \
	"object-src 'none'\r\n"                                             \
	"X-Frame-Options: DENY\r\n"                                         \
	"X-Content-Type-Options: nosniff\r\n"

enum { HTTP_REDIRECT_MAX = 2048 };	/* Host + URI in a redirect */

#define HSTS "Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n"

static const char home_page[] =
	"<html><body>\n"
	"<h1>DERP</h1>\n"
	"<p>\n"
	"  This is a <a href=\"https://tailscale.com/\">Tailscale</a> DERP server.\n"
	"</p>\n"
	"\n"
	"<p>\n"
	"  It provides STUN, interactive connectivity establishment, and relaying of end-to-end encrypted traffic\n"
	"  for Tailscale clients.\n"
	"</p>\n"
	"\n"
	"<p>\n"
	"  Documentation:\n"
	"</p>\n"
	"\n"
	"<ul>\n"
	"  <li><a href=\"https://tailscale.com/kb/1232/derp-servers\">About DERP</a></li>\n"
	"  <li><a href=\"https://pkg.go.dev/tailscale.com/derp\">Protocol & Go docs</a></li>\n"
	"  <li><a href=\"https://github.com/tailscale/tailscale/tree/main/cmd/derper#derp\">How to run a DERP server</a></li>\n"
	"</ul>\n";

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

struct resp {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void __attribute__((format(printf, 2, 3)))
put(struct resp *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= r->cap - r->len)
		r->overflow = true;
	else
		r->len += (size_t)n;
}

/* Status line, Date, the given headers, Content-Length, then the body
 * (left out for HEAD, as Go does). */
static void
respond(struct resp *r, bool head, int status, const char *headers,
	const char *body, size_t body_len, bool close)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	put(r, "HTTP/1.1 %d %s\r\n%sDate: %s\r\n", status, reason(status),
	    headers, date);
	if (status != 204)
		put(r, "Content-Length: %zu\r\n", body_len);
	if (close)
		put(r, "Connection: close\r\n");
	put(r, "\r\n");
	if (!head && body_len)
		put(r, "%.*s", (int)body_len, body);
}

/* http.Error: text/plain, nosniff, message and a newline */
static void
error_text(struct resp *r, bool head, int status, const char *msg, bool close)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%s\n", msg);

	respond(r, head, status,
		"Content-Type: text/plain; charset=utf-8\r\n"
		"X-Content-Type-Options: nosniff\r\n",
		body, (size_t)n, close);
}

size_t
http_error_response(int status, char *out, size_t outlen)
{
	struct resp r = {out, outlen, 0, false};

	error_text(&r, false, status, reason(status), true);
	return r.overflow ? 0 : r.len;
}

bool
http_challenge_valid(struct http_str c)
{
	if (c.n == 0 || c.n > 64)
		return false;
	for (uint32_t i = 0; i < c.n; i++) {
		unsigned char ch = (unsigned char)c.p[i];

		if (!isalnum(ch) && ch != '.' && ch != '_' && ch != ':' && ch != '-')
			return false;
	}
	return true;
}

static void
serve_204(struct resp *r, const struct http_req *req, bool close)
{
	char hdr[256];

	snprintf(hdr, sizeof(hdr),
		 "Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0\r\n");
	if (http_challenge_valid(req->challenge))
		snprintf(hdr + strlen(hdr), sizeof(hdr) - strlen(hdr),
			 "X-Tailscale-Response: response %.*s\r\n",
			 (int)req->challenge.n, req->challenge.p);
	respond(r, true, 204, hdr, NULL, 0, close);
}

static void
serve_home(struct resp *r, const struct http_req *req,
	   const struct http_route_cfg *rc, bool head, bool close)
{
	char hdr[2560];
	char body[sizeof(home_page) + 256];
	size_t n;

	snprintf(hdr, sizeof(hdr), "%s%s", BROWSER_HEADERS, rc->tls ? HSTS : "");
	(void)req;
	if (strncmp(rc->home, "http://", 7) == 0 ||
	    strncmp(rc->home, "https://", 8) == 0) {
		snprintf(hdr + strlen(hdr), sizeof(hdr) - strlen(hdr),
			 "Location: %s\r\nContent-Type: text/html; charset=utf-8\r\n",
			 rc->home);
		n = (size_t)snprintf(body, sizeof(body),
				     "<a href=\"%s\">Found</a>.\n\n", rc->home);
		respond(r, head, 302, hdr, body, n < sizeof(body) ? n : 0, close);
		return;
	}
	strcat(hdr, "Content-Type: text/html; charset=utf-8\r\n");
	if (strcmp(rc->home, "blank") == 0) {
		respond(r, head, 200, hdr, NULL, 0, close);
		return;
	}
	n = (size_t)snprintf(body, sizeof(body), "%s%s%s</body>\n</html>\n",
			     home_page,
			     rc->derp ? "" : "\n<p>Status: <b>disabled</b></p>\n",
			     rc->debug_allowed ?
				     "\n<p>Debug info at <a href='/debug/'>/debug/</a>.</p>\n" :
				     "");
	respond(r, head, 200, hdr, body, n, close);
}

static enum http_action
route_derp(const struct http_req *req, const struct http_route_cfg *rc,
	   struct resp *r, bool head, bool close)
{
	if (!rc->derp) {
		error_text(r, head, 404, "derp server disabled", close);
		return close ? HTTP_RESPOND_CLOSE : HTTP_RESPOND;
	}
	if (http_str_eq(req->upgrade, "websocket") &&
	    http_str_contains(req->ws_protocol, "derp"))
		return HTTP_UPGRADE_WS;
	/* very old clients sent "Upgrade: WebSocket" but spoke raw DERP */
	if (http_str_eq(req->upgrade, "derp") ||
	    http_str_eq(req->upgrade, "websocket"))
		return HTTP_UPGRADE_DERP;
	error_text(r, head, 426, "DERP requires connection upgrade", close);
	return close ? HTTP_RESPOND_CLOSE : HTTP_RESPOND;
}

/* html.EscapeString, for the URL in a redirect's body */
static void
put_escaped(struct resp *r, struct http_str s)
{
	for (uint32_t i = 0; i < s.n; i++) {
		switch (s.p[i]) {
		case '<': put(r, "&lt;"); break;
		case '>': put(r, "&gt;"); break;
		case '&': put(r, "&amp;"); break;
		case '"': put(r, "&#34;"); break;
		case '\'': put(r, "&#39;"); break;
		default: put(r, "%c", s.p[i]); break;
		}
	}
}

/* http.Redirect(w, r, "https://" + Host + uri, 302) */
static void
redirect_https(struct resp *r, const struct http_req *req, struct http_str uri,
	       bool head, bool close)
{
	static const struct http_str https = {"https://", 8};
	char hdr[HTTP_REDIRECT_MAX + 128], body[5 * HTTP_REDIRECT_MAX + 64];
	struct resp b = {body, sizeof(body), 0, false};
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "Location: https://%.*s%.*s\r\n"
		     "Content-Type: text/html; charset=utf-8\r\n",
		     (int)req->host.n, req->host.p, (int)uri.n, uri.p);
	put(&b, "<a href=\"");
	put_escaped(&b, https);
	put_escaped(&b, req->host);
	put_escaped(&b, uri);
	put(&b, "\">Found</a>.\n\n");
	if (n < 0 || (size_t)n >= sizeof(hdr) || b.overflow) {
		r->overflow = true;
		return;
	}
	respond(r, head, 302, hdr, body, b.len, close);
}

/* §10.2: the port-80 companion of a TLS listener (/debug excepted, which
 * the main router answers). */
static void
route_port80(const struct http_req *req, const struct http_route_cfg *rc,
	     struct resp *r, bool head, bool get_or_head, bool close)
{
	static const struct http_str debug = {"/debug/", 7};
	static const char acme[] = "/.well-known/acme-challenge/";
	const size_t al = sizeof(acme) - 1;

	if (http_str_eq(req->path, "/generate_204")) {
		serve_204(r, req, close);
	} else if (rc->acme_http01 && req->path.n > al &&
		   memcmp(req->path.p, acme, al) == 0) {
		const char *ka = rc->acme_http01(rc->acme_arg, req->path.p + al,
						 req->path.n - al);

		if (ka)
			respond(r, head, 200, "Content-Type: text/plain\r\n", ka,
				strlen(ka), close);
		else
			error_text(r, head, 404, "404 page not found", close);
	} else if (!get_or_head)
		error_text(r, head, 400, "Use HTTPS", close);
	else if (http_str_eq(req->path, "/") && rc->debug_allowed)
		redirect_https(r, req, debug, head, close);
	else
		redirect_https(r, req, req->target, head, close);
}

enum http_action
http_route(const struct http_req *req, const struct http_route_cfg *rc,
	   char *out, size_t outlen, size_t *out_len)
{
	struct resp r = {out, outlen, 0, false};
	bool head = http_str_eq(req->method, "HEAD");
	bool get_or_head = head || http_str_eq(req->method, "GET");
	bool close = !req->keep_alive || req->has_body;
	enum http_action act = close ? HTTP_RESPOND_CLOSE : HTTP_RESPOND;
	bool is_debug = req->path.n >= 6 && strncmp(req->path.p, "/debug", 6) == 0;

	if (rc->port80 && !is_debug) {
		route_port80(req, rc, &r, head, get_or_head, close);
	} else if (rc->tls && http_str_eq(req->method, "CONNECT")) {
		error_text(&r, head, 403, "CONNECT not enabled", close);
	} else if (http_str_eq(req->path, "/derp")) {
		act = route_derp(req, rc, &r, head, close);
		if (act == HTTP_UPGRADE_DERP || act == HTTP_UPGRADE_WS) {
			*out_len = 0;
			return act;
		}
	} else if (http_str_eq(req->path, "/derp/probe") ||
		   http_str_eq(req->path, "/derp/latency-check")) {
		if (get_or_head)
			respond(&r, head, 200,
				"Access-Control-Allow-Origin: *\r\n", NULL, 0,
				close);
		else
			error_text(&r, head, 405, "bogus probe method", close);
	} else if (http_str_eq(req->path, "/generate_204")) {
		serve_204(&r, req, close);
	} else if (http_str_eq(req->path, "/robots.txt")) {
		respond(&r, head, 200,
			BROWSER_HEADERS "Content-Type: text/plain; charset=utf-8\r\n",
			"User-agent: *\nDisallow: /\n", 26, close);
	} else if (http_str_eq(req->path, "/bootstrap-dns")) {
		/* derper with no -bootstrap-dns-names: an empty body */
		respond(&r, head, 200,
			BROWSER_HEADERS "Content-Type: application/json\r\n",
			NULL, 0, true);
		act = HTTP_RESPOND_CLOSE;
	} else if (is_debug) {
		if (!rc->debug_allowed || req->forwarded_for.p)
			error_text(&r, head, 403, "debug access denied", close);
		else
			error_text(&r, head, 404,
				   "debug pages are not served here; see metrics.listen for /metrics",
				   close);
	} else {
		serve_home(&r, req, rc, head, close);
	}
	if (r.overflow) {
		r.len = 0;
		r.overflow = false;
		error_text(&r, false, 500, "response too large", true);
		act = HTTP_RESPOND_CLOSE;
	}
	*out_len = r.len;
	return act;
}
