/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdio.h>

#include "config/errors.h"

const char *
cfg_origin_format(const struct cfg_origin *o, const char *file, char *buf,
		  size_t len)
{
	switch (o->source) {
	case CFG_SRC_FILE:
		/* A setting from an @include'd file names that file. */
		if (o->name[0])
			file = o->name;
		snprintf(buf, len, "%s:%u", file && *file ? file : "derper.conf",
			 (unsigned int)o->line);
		break;
	case CFG_SRC_ENV:
		snprintf(buf, len, "env %s", o->name);
		break;
	case CFG_SRC_FLAG:
		snprintf(buf, len, "flag %s", o->name);
		break;
	default:
		snprintf(buf, len, "default");
		break;
	}
	return buf;
}

void
cfg_error_add(struct cfg_errors *errs, const struct cfg_origin *where,
	      const char *file, const char *key, const char *fmt, ...)
{
	char origin[CFG_PATH_LEN + 16];
	char text[CFG_ERROR_LEN];
	va_list ap;

	if (errs->n >= CFG_ERRORS_MAX) {
		errs->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cfg_origin_format(where, file, origin, sizeof(origin));
	snprintf(errs->msg[errs->n++], CFG_ERROR_LEN, "%s: %s%s%s", origin,
		 key ? key : "", key ? ": " : "", text);
}
