/* SPDX-License-Identifier: BSD-3-Clause */
/* derper.conf: libconfig parsing, our tree walk, the range checks and the
 * cross-field validation, then --print-config of whatever was accepted
 * must load again to the same values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/load.h"
#include "config/merge.h"
#include "config/print.h"
#include "config/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct derper_config a, b;
	static struct cfg_errors errs;
	char *text, *printed = NULL;
	size_t plen;
	FILE *f;

	/* keep libconfig's @include away from the file system */
	if (size > 65536 || memmem(data, size, "@include", 8))
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	cfg_defaults(&a);
	memset(&errs, 0, sizeof(errs));
	if (cfg_file_apply(&a, "fuzz.conf", text, &errs) == 0) {
		cfg_validate(&a, &errs);
		f = open_memstream(&printed, &plen);
		cfg_print(f, &a);
		fclose(f);
		cfg_defaults(&b);
		memset(&errs, 0, sizeof(errs));
		/* secrets are redacted in print: compare the rest */
		if (cfg_file_apply(&b, "fuzz.conf", printed, &errs) != 0)
			__builtin_trap();
		if (a.stun.port != b.stun.port || a.dataplane.nb_ports != b.dataplane.nb_ports ||
		    strcmp(a.hostname, b.hostname) != 0 || a.mesh.peers.n != b.mesh.peers.n)
			__builtin_trap();
		free(printed);
	}
	free(text);
	return 0;
}
