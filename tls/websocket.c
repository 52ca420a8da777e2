/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "tls/websocket.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { WS_HEADER, WS_PAYLOAD };

static bool
token_list_has(struct http_str list, const char *tok)
{
	size_t n = strlen(tok);
	uint32_t i = 0;

	while (i < list.n) {
		uint32_t s, e;

		while (i < list.n && (list.p[i] == ' ' || list.p[i] == ','))
			i++;
		s = i;
		while (i < list.n && list.p[i] != ',')
			i++;
		e = i;
		while (e > s && list.p[e - 1] == ' ')
			e--;
		if (e - s == n && memcmp(list.p + s, tok, n) == 0)
			return true;
	}
	return false;
}

int
ws_handshake(const struct http_req *req, char *out, size_t outlen,
	     bool *derp_proto)
{
	char buf[128], accept[64];
	unsigned char md[SHA_DIGEST_LENGTH];
	int n;

	if (!http_str_eq(req->method, "GET") || !http_str_eq(req->ws_version, "13") ||
	    req->ws_key.n == 0 || req->ws_key.n > 64 ||
	    !http_str_contains(req->connection, "upgrade"))
		return -400;
	n = snprintf(buf, sizeof(buf), "%.*s" WS_GUID, (int)req->ws_key.n,
		     req->ws_key.p);
	SHA1((const unsigned char *)buf, (size_t)n, md);
	EVP_EncodeBlock((unsigned char *)accept, md, sizeof(md));
	*derp_proto = token_list_has(req->ws_protocol, "derp");
	n = snprintf(out, outlen,
		     "HTTP/1.1 101 Switching Protocols\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n"
		     "%s"
		     "\r\n",
		     accept, *derp_proto ? "Sec-WebSocket-Protocol: derp\r\n" : "");
	return n > 0 && (size_t)n < outlen ? n : -400;
}

size_t
ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t len)
{
	out[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

size_t
ws_close_frame(uint8_t *out, uint16_t status)
{
	size_t h = ws_frame_header(out, WS_OP_CLOSE, 2);

	out[h] = (uint8_t)(status >> 8);
	out[h + 1] = (uint8_t)status;
	return h + 2;
}

/* Header complete: validate and set up the payload. 0 or close status. */
static int
frame_start(struct ws_rx *rx)
{
	uint8_t b0 = rx->hdr[0], b1 = rx->hdr[1];
	uint8_t op = b0 & 0x0f;
	uint64_t len = b1 & 0x7f;
	int off = 2;

	if (b0 & 0x70)
		return WS_CLOSE_PROTOCOL;	/* no extensions negotiated */
	if (!(b1 & 0x80))
		return WS_CLOSE_PROTOCOL;	/* clients must mask */
	if (len == 126) {
		len = (uint64_t)rx->hdr[2] << 8 | rx->hdr[3];
		off = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | rx->hdr[2 + i];
		off = 10;
	}
	memcpy(rx->mask, rx->hdr + off, 4);
	rx->opcode = op;
	rx->fin = b0 & 0x80;
	rx->len = len;
	rx->got = 0;
	switch (op) {
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!rx->fin || len > 125)
			return WS_CLOSE_PROTOCOL;
		return 0;
	case WS_OP_TEXT:
		return WS_CLOSE_UNSUPPORTED;
	case WS_OP_BINARY:
		if (rx->in_message)
			return WS_CLOSE_PROTOCOL;
		rx->in_message = true;
		rx->msg_bytes = 0;
		break;
	case WS_OP_CONT:
		if (!rx->in_message)
			return WS_CLOSE_PROTOCOL;
		break;
	default:
		return WS_CLOSE_PROTOCOL;
	}
	rx->msg_bytes += len;
	if (rx->msg_bytes > WS_MAX_MESSAGE)
		return WS_CLOSE_TOO_BIG;
	return 0;
}

static int
frame_end(struct ws_rx *rx, const struct ws_rx_ops *ops, void *ctx)
{
	rx->state = WS_HEADER;
	rx->hdr_got = 0;
	if (rx->opcode & 0x08)
		return ops->on_control(ctx, rx->opcode, rx->ctl, (size_t)rx->len);
	if (rx->fin)
		rx->in_message = false;
	return 0;
}

int
ws_rx_feed(struct ws_rx *rx, uint8_t *buf, size_t len,
	   const struct ws_rx_ops *ops, void *ctx)
{
	size_t off = 0;
	int rc;

	while (off < len || (rx->state == WS_PAYLOAD && rx->got == rx->len)) {
		if (rx->state == WS_HEADER) {
			uint8_t b;

			if (rx->hdr_got < 2) {
				rx->hdr[rx->hdr_got++] = buf[off++];
				if (rx->hdr_got < 2)
					continue;
				b = rx->hdr[1] & 0x7f;
				rx->hdr_need = (uint8_t)(2 + 4 + (b == 126 ? 2 : b == 127 ? 8 : 0));
				continue;
			}
			if (rx->hdr_got < rx->hdr_need) {
				rx->hdr[rx->hdr_got++] = buf[off++];
				if (rx->hdr_got < rx->hdr_need)
					continue;
			}
			rc = frame_start(rx);
			if (rc)
				return rc;
			rx->state = WS_PAYLOAD;
			continue;
		}
		{
			uint64_t need = rx->len - rx->got;
			size_t take = len - off < need ? len - off : (size_t)need;
			uint8_t *p = buf + off;

			for (size_t i = 0; i < take; i++)
				p[i] ^= rx->mask[(rx->got + i) & 3];
			if (rx->opcode & 0x08) {
				memcpy(rx->ctl + rx->got, p, take);
			} else if (take) {
				rc = ops->on_data(ctx, p, take);
				if (rc)
					return rc;
			}
			rx->got += take;
			off += take;
			if (rx->got == rx->len) {
				rc = frame_end(rx, ops, ctx);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}
