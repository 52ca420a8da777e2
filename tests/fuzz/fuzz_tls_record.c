/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS 1.3 record parser (tls13_open). First byte: 0 feeds the rest as
 * raw bytes (headers, lengths, tags that fail); otherwise the rest is a
 * list of [len][TLSInnerPlaintext] chunks, each sealed under the peer's
 * key so that the content types, padding, alerts and KeyUpdates inside
 * get parsed; the stream is then opened in two reads cut at data[0].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/record.h"
#include "tls/test_hooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tls13_engine eng;
static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t cs[32] = {7}, ss[32] = {9};
	struct tls13_rec cl, srv;
	size_t n = 0, used = 0, plain = 0, cut;
	uint8_t *buf;
	int rc;

	if (!ready) {
		if (tls13_engine_init(&eng))
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	buf = malloc(2 * size + 64 * (size + 1) + TLS13_MAX_RECORD);
	if (!buf)
		return 0;
	tls13_rec_init(&eng, &cl, TLS13_AES_128_GCM_SHA256, cs, ss, false);
	tls13_rec_init(&eng, &srv, TLS13_AES_128_GCM_SHA256, cs, ss, true);
	if (data[0] == 0) {
		memcpy(buf, data + 1, size - 1);
		n = size - 1;
	} else {
		for (size_t i = 1; i + 2 <= size;) {
			size_t len = (size_t)data[i] << 8 | data[i + 1];

			i += 2;
			if (len > size - i)
				len = size - i;
			n += tls13_seal_inner(&eng, &cl, data + i, len, buf + n);
			i += len;
		}
	}
	cut = n ? data[0] % (n + 1) : 0;
	rc = tls13_open(&eng, &srv, buf, cut, &used, &plain);
	if (used > cut || plain > used)
		__builtin_trap();
	if (rc == 0) {
		/* what was not a whole record goes again with the rest */
		size_t rest = n - used, used2, plain2;

		memmove(buf + plain, buf + used, rest);
		rc = tls13_open(&eng, &srv, buf + plain, rest, &used2, &plain2);
		if (used2 > rest || plain2 > used2)
			__builtin_trap();
	}
	(void)rc;
	tls13_rec_free(&cl);
	tls13_rec_free(&srv);
	free(buf);
	return 0;
}
