/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * derper's HTTP surface on the main listener (docs/protocol.md §10.1):
 * /derp (upgrade), /derp/probe, /derp/latency-check, /generate_204,
 * /robots.txt, /bootstrap-dns, /debug/, and the home page for every other
 * path; and the port-80 companion (§10.2): /generate_204, /debug, 400 "Use
 * HTTPS" for other methods than GET/HEAD, 302 to https:// otherwise. Pure:
 * builds the response into a buffer; the caller writes it.
 */
#ifndef DERPER_TLS_HTTP_ROUTE_H
#define DERPER_TLS_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "tls/http.h"

enum http_action {
	HTTP_RESPOND,		/* write the response, keep the connection */
	HTTP_RESPOND_CLOSE,	/* write the response, then close */
	HTTP_UPGRADE_DERP,	/* DERP over this stream */
	HTTP_UPGRADE_WS,	/* WebSocket with subprotocol derp */
};

struct http_route_cfg {
	bool derp;		/* derp = true */
	const char *home;	/* "", "blank" or a URL */
	bool tls;		/* this listener serves TLS */
	bool debug_allowed;	/* the client may see /debug/ (loopback, tailnet) */
	bool port80;		/* the port-80 companion listener */
	/* ACME mode: the HTTP-01 key authorization for a token, or NULL */
	const char *(*acme_http01)(const void *arg, const char *token, size_t n);
	const void *acme_arg;
};

/*
 * Route a parsed request. For HTTP_RESPOND(_CLOSE) the full response is in
 * out[0..*out_len). Returns the action. Responses that do not fit `out`
 * (8 KiB is plenty) are truncated to a 500.
 */
enum http_action http_route(const struct http_req *req,
			    const struct http_route_cfg *rc, char *out,
			    size_t outlen, size_t *out_len);

/*
 * An error response for a request that could not be parsed or took too
 * long (400, 408, 431, 501, 505): always closes.
 */
size_t http_error_response(int status, char *out, size_t outlen);

/* Is the X-Tailscale-Challenge value one derper echoes (<= 64 chars of
 * [A-Za-z0-9._:-])? */
bool http_challenge_valid(struct http_str c);

#endif /* DERPER_TLS_HTTP_ROUTE_H */
