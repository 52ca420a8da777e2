/* SPDX-License-Identifier: BSD-3-Clause */
/* The ClientInfo JSON (the content of an opened box). */
#include <stdint.h>

#include "tls/client_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client_info ci;

	client_info_parse(data, size, &ci);
	return 0;
}
