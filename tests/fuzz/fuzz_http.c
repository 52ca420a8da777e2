/* SPDX-License-Identifier: BSD-3-Clause */
/* HTTP request heads: the terminator search, the parser, and derper's
 * routes for whatever parses. */
#include <stdint.h>
#include <string.h>

#include "tls/http.h"
#include "tls/http_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http_route_cfg rc = {.derp = true, .home = "", .tls = true};
	struct http_req req;
	char out[8192];
	size_t end = 0, out_len;

	for (size_t from = 0; from <= size && !end; from += 7)
		end = http_head_end(buf, size, from);
	if (end != http_head_end(buf, size, 0))
		__builtin_trap();
	if (!end)
		return 0;
	if (http_parse_request(buf, end, &req) == 0) {
		http_route(&req, &rc, out, sizeof(out), &out_len);
		rc.derp = false;
		rc.home = "https://example.com/";
		http_route(&req, &rc, out, sizeof(out), &out_len);
	}
	return 0;
}
