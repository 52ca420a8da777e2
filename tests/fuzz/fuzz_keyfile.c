/* SPDX-License-Identifier: BSD-3-Clause */
/* derper's JSON key file, and the mesh pre-shared key file. */
#include <stdint.h>

#include "tls/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[32];
	char err[256];

	tls_keyfile_parse((const char *)data, size, key, err, sizeof(err));
	tls_mesh_key_parse((const char *)data, size, key, err, sizeof(err));
	return 0;
}
