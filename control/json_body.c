/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>

#include <jansson.h>

#include "control/json_body.h"

size_t
ctl_json_pack(char *out, size_t outlen, const char *fmt, ...)
{
	json_error_t e;
	va_list ap;
	json_t *j;
	size_t n;

	va_start(ap, fmt);
	j = json_vpack_ex(&e, 0, fmt, ap);
	va_end(ap);
	if (!j)
		return 0;
	n = json_dumpb(j, out, outlen, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (n == 0 || n >= outlen)
		return 0;
	out[n] = '\0';
	return n;
}
