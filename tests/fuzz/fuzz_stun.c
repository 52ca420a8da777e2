/* SPDX-License-Identifier: BSD-3-Clause */
/* STUN request validation (both modes) and the client-side response
 * parser; an accepted request must yield a response that parses back. */
#include <stdint.h>
#include <string.h>

#include "dataplane/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t txid[12], out[64], addr[16] = {192, 0, 2, 1};
	uint8_t got[16];
	uint16_t port;
	int family;

	for (int mode = 0; mode < 2; mode++) {
		if (stun_parse_request(data, size, mode, txid) == STUN_OK) {
			size_t n = stun_build_response(out, txid, STUN_FAMILY_IPV4, addr, 4242);

			if (stun_parse_response(out, n, txid, &family, got, &port) != 0 ||
			    port != 4242 || memcmp(got, addr, 4) != 0)
				__builtin_trap();
		}
	}
	if (size >= 20)
		stun_parse_response(data, size, data + 8, &family, got, &port);
	return 0;
}
