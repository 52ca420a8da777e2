/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tls/frame.h"

void
derp_rx_free(struct derp_rx *rx)
{
	free(rx->body);
	rx->body = NULL;
	rx->body_cap = 0;
}

bool
derp_looks_like_disco(const uint8_t *pkt, uint32_t len)
{
	return len >= DERP_DISCO_MIN &&
	       memcmp(pkt, DERP_DISCO_MAGIC, DERP_DISCO_MAGIC_LEN) == 0;
}

static int
start_frame(struct derp_rx *rx, const struct derp_rx_ops *ops, void *ctx)
{
	uint32_t prefix = 0;
	int act;

	rx->type = rx->hdr[0];
	rx->len = (uint32_t)rx->hdr[1] << 24 | (uint32_t)rx->hdr[2] << 16 |
		  (uint32_t)rx->hdr[3] << 8 | rx->hdr[4];
	rx->got = 0;
	act = ops->on_header(ctx, rx->type, rx->len, &prefix);
	switch (act) {
	case DERP_RX_WHOLE:
		rx->state = DERP_RX_BODY_WHOLE;
		return 0;
	case DERP_RX_STREAM:
		if (prefix > sizeof(rx->pfx) || prefix > rx->len)
			return -EPROTO;
		rx->prefix = prefix;
		rx->state = DERP_RX_BODY_PREFIX;
		if (prefix == 0) {
			rx->state = DERP_RX_BODY_STREAM;
			return ops->on_stream_start(ctx, rx->type, rx->pfx, 0,
						    rx->len);
		}
		return 0;
	case DERP_RX_SKIP:
		rx->state = DERP_RX_BODY_SKIP;
		return 0;
	default:
		return act < 0 ? act : -EPROTO;
	}
}

/* Collect a WHOLE frame; deliver in place when it is all in `p`. */
static int
body_whole(struct derp_rx *rx, const uint8_t *p, size_t n, size_t *took,
	   const struct derp_rx_ops *ops, void *ctx, bool *done)
{
	uint32_t need = rx->len - rx->got;
	size_t take = n < need ? n : need;
	int rc;

	*took = take;
	if (rx->got == 0 && take == need) {
		*done = true;
		rx->state = DERP_RX_HEADER;
		return ops->on_frame(ctx, rx->type, p, rx->len);
	}
	if (rx->body_cap < rx->len) {
		uint8_t *b = realloc(rx->body, rx->len);

		if (!b)
			return -ENOMEM;
		rx->body = b;
		rx->body_cap = rx->len;
	}
	memcpy(rx->body + rx->got, p, take);
	rx->got += (uint32_t)take;
	if (rx->got < rx->len)
		return 0;
	*done = true;
	rx->state = DERP_RX_HEADER;
	rc = ops->on_frame(ctx, rx->type, rx->body, rx->len);
	/* large bodies (ClientInfo) are not kept around */
	if (rx->body_cap > 4096)
		derp_rx_free(rx);
	return rc;
}

int
derp_rx_feed(struct derp_rx *rx, const uint8_t *buf, size_t len,
	     const struct derp_rx_ops *ops, void *ctx, size_t *used,
	     bool stop_after_frame)
{
	size_t off = 0;
	int rc = 0;

	while (off < len || (rx->state != DERP_RX_HEADER && rx->len == rx->got &&
			     rx->state != DERP_RX_BODY_PREFIX)) {
		const uint8_t *p = buf + off;
		size_t n = len - off, take = 0;
		bool done = false;

		switch (rx->state) {
		case DERP_RX_HEADER:
			take = DERP_FRAME_HEADER_LEN - rx->hdr_got;
			if (take > n)
				take = n;
			memcpy(rx->hdr + rx->hdr_got, p, take);
			rx->hdr_got = (uint8_t)(rx->hdr_got + take);
			if (rx->hdr_got == DERP_FRAME_HEADER_LEN) {
				rx->hdr_got = 0;
				rc = start_frame(rx, ops, ctx);
			}
			break;
		case DERP_RX_BODY_WHOLE:
			rc = body_whole(rx, p, n, &take, ops, ctx, &done);
			break;
		case DERP_RX_BODY_PREFIX: {
			uint32_t need = rx->prefix - rx->got;

			take = n < need ? n : need;
			memcpy(rx->pfx + rx->got, p, take);
			rx->got += (uint32_t)take;
			if (rx->got == rx->prefix) {
				rx->state = DERP_RX_BODY_STREAM;
				rc = ops->on_stream_start(ctx, rx->type, rx->pfx,
							  rx->prefix,
							  rx->len - rx->prefix);
			}
			break;
		}
		case DERP_RX_BODY_STREAM: {
			uint32_t need = rx->len - rx->got;

			take = n < need ? n : need;
			if (take)
				rc = ops->on_stream_data(ctx, p, (uint32_t)take);
			rx->got += (uint32_t)take;
			if (rc == 0 && rx->got == rx->len) {
				rx->state = DERP_RX_HEADER;
				done = true;
				rc = ops->on_stream_end(ctx);
			}
			break;
		}
		case DERP_RX_BODY_SKIP: {
			uint32_t need = rx->len - rx->got;

			take = n < need ? n : need;
			rx->got += (uint32_t)take;
			if (rx->got == rx->len) {
				rx->state = DERP_RX_HEADER;
				done = true;
			}
			break;
		}
		}
		off += take;
		if (rc)
			break;
		if (done && stop_after_frame) {
			rc = 1;
			break;
		}
	}
	if (used)
		*used = off;
	return rc;
}
