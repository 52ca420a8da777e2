/* SPDX-License-Identifier: BSD-3-Clause */
/* What tailscaled's LocalAPI and the admission webhook answer: the first
 * byte picks the status, the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/admit_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 400, 404, 403, 500, 0};
	long status;
	char *body;

	if (size == 0)
		return 0;
	status = statuses[data[0] % 6];
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	admit_decide_localapi(status != 0, status, body, size - 1);
	admit_decide_webhook(status != 0, status, body, size - 1, data[0] & 0x80);
	{
		static uint8_t keys[64][32];
		size_t n;

		if (admit_parse_status(body, size - 1, keys, 64, &n) == 0 && n)
			(void)admit_key_in((const uint8_t (*)[32])keys, n, keys[n - 1]);
	}
	free(body);
	return 0;
}
