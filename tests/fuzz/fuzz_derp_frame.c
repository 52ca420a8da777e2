/* SPDX-License-Identifier: BSD-3-Clause */
/* The DERP frame reader with the server's length rules, fed the input in
 * two pieces split by its first byte: splitting never changes frames. */
#include <stdint.h>
#include <string.h>

#include "tls/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	uint64_t sum;
	uint32_t frames;
};

static int
on_header(void *c, uint8_t type, uint32_t len, uint32_t *prefix)
{
	(void)c;
	switch (type) {
	case DERP_FRAME_SEND_PACKET:
		if (len < 32 || len - 32 > DERP_MAX_PACKET)
			return -1000;
		*prefix = 32;
		return DERP_RX_STREAM;
	case DERP_FRAME_FORWARD_PACKET:
		if (len < 64 || len - 64 > DERP_MAX_PACKET)
			return -1000;
		*prefix = 64;
		return DERP_RX_STREAM;
	case DERP_FRAME_CLIENT_INFO:
		return len >= 56 && len <= (256 << 10) ? DERP_RX_WHOLE : -1000;
	case DERP_FRAME_PING:
		return len >= 8 && len <= 1000 ? DERP_RX_WHOLE : -1000;
	case DERP_FRAME_NOTE_PREFERRED:
		return len == 1 ? DERP_RX_WHOLE : -1000;
	default:
		return DERP_RX_SKIP;
	}
}

static int
on_frame(void *c, uint8_t type, const uint8_t *body, uint32_t len)
{
	struct ctx *x = c;

	x->frames++;
	x->sum += type + len + (len ? body[0] + body[len - 1] : 0);
	return 0;
}

static int
on_start(void *c, uint8_t t, const uint8_t *p, uint32_t pl, uint32_t rest)
{
	struct ctx *x = c;

	x->sum += t + p[0] + p[pl - 1] + rest;
	return 0;
}

static int
on_data(void *c, const uint8_t *d, uint32_t n)
{
	struct ctx *x = c;

	for (uint32_t i = 0; i < n; i++)
		x->sum += d[i];
	return 0;
}

static int
on_end(void *c)
{
	((struct ctx *)c)->frames++;
	return 0;
}

static const struct derp_rx_ops ops = {on_header, on_frame, on_start, on_data, on_end};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct derp_rx a = {0}, b = {0};
	struct ctx ca = {0}, cb = {0};
	size_t cut = size ? data[0] % (size + 1) : 0;
	int ra, rb;

	ra = derp_rx_feed(&a, data, size, &ops, &ca, NULL, false);
	rb = derp_rx_feed(&b, data, cut, &ops, &cb, NULL, false);
	if (rb == 0)
		rb = derp_rx_feed(&b, data + cut, size - cut, &ops, &cb, NULL, false);
	if (ra != rb || (ra == 0 && (ca.sum != cb.sum || ca.frames != cb.frames)))
		__builtin_trap();
	derp_rx_free(&a);
	derp_rx_free(&b);
	return 0;
}
