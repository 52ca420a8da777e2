/* SPDX-License-Identifier: BSD-3-Clause */
/* ACME server answers: every parser of control/acme_msg.c on one input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/acme_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[256], b64[64];
	struct acme_directory d;
	struct acme_order o;
	struct acme_authz a;
	struct acme_problem p;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	acme_parse_directory(s, size, &d, err, sizeof(err));
	if (acme_parse_order(s, size, &o, err, sizeof(err)) == 0 &&
	    (o.nb_authz == 0 || o.nb_authz > ACME_MAX_AUTHZ))
		__builtin_trap();
	if (acme_parse_authz(s, size, &a, err, sizeof(err)) == 0) {
		for (unsigned int i = 0; i < a.nb_challenges; i++)
			if (*a.ch[i].token && !acme_b64url_valid(a.ch[i].token))
				__builtin_trap();
		acme_authz_challenge(&a, "http-01");
	}
	acme_parse_problem(s, size, &p);
	if (strpbrk(p.detail, "\"\n\r"))
		__builtin_trap();
	acme_retry_after(s, 0);
	acme_b64url(data, size < 40 ? size : 40, b64, sizeof(b64));
	free(s);
	return 0;
}
