/* SPDX-License-Identifier: BSD-3-Clause */
/* WebSocket frame decoding, byte stream split at the first byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_data(void *ctx, uint8_t *d, size_t n)
{
	(void)d;
	*(size_t *)ctx += n;
	return 0;
}

static int
on_control(void *ctx, uint8_t op, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)op;
	(void)p;
	return n > 125 ? -1 : 0;
}

static const struct ws_rx_ops ops = {on_data, on_control};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size + 1);
	struct ws_rx rx = {0};
	size_t total = 0, cut = size ? data[0] % (size + 1) : 0;
	int rc;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rc = ws_rx_feed(&rx, copy, cut, &ops, &total);
	if (rc == 0)
		ws_rx_feed(&rx, copy + cut, size - cut, &ops, &total);
	if (total > size)
		__builtin_trap();
	free(copy);
	return 0;
}
