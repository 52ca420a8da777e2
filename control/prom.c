/* SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "control/prom.h"

void
prom_init(struct prom *p)
{
	memset(p, 0, sizeof(*p));
}

void
prom_free(struct prom *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

static void
vput(struct prom *p, const char *fmt, va_list ap)
{
	for (;;) {
		va_list aq;
		int n;

		if (p->oom)
			return;
		va_copy(aq, ap);
		n = vsnprintf(p->buf ? p->buf + p->len : NULL, p->cap - p->len, fmt, aq);
		va_end(aq);
		if (n < 0) {
			p->oom = true;
			return;
		}
		if ((size_t)n < p->cap - p->len) {
			p->len += (size_t)n;
			return;
		}
		{
			char *b = buf_grow(p->buf, &p->cap, p->len + (size_t)n + 1, 16384, 0);

			if (!b) {
				p->oom = true;
				return;
			}
			p->buf = b;
		}
	}
}

static void __attribute__((format(printf, 2, 3)))
put(struct prom *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput(p, fmt, ap);
	va_end(ap);
}

/* A label value: backslash, double quote and line feed escaped. */
static void
put_value(struct prom *p, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			put(p, "\\\\");
		else if (*v == '"')
			put(p, "\\\"");
		else if (*v == '\n')
			put(p, "\\n");
		else
			put(p, "%c", *v);
	}
}

void
prom_family(struct prom *p, const char *name, const char *type,
	    const char *help)
{
	size_t n = strlen(name);

	/* OpenMetrics names a counter family without its _total suffix */
	if (p->openmetrics && strcmp(type, "counter") == 0 && n > 6 &&
	    strcmp(name + n - 6, "_total") == 0)
		n -= 6;
	put(p, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name, help, (int)n, name, type);
}

void
prom_end(struct prom *p)
{
	if (p->openmetrics)
		put(p, "# EOF\n");
}

static void
labels(struct prom *p, va_list ap)
{
	const char *k = va_arg(ap, const char *);
	bool first = true;

	while (k) {
		const char *v = va_arg(ap, const char *);

		put(p, "%s%s=\"", first ? "{" : ",", k);
		put_value(p, v ? v : "");
		put(p, "\"");
		first = false;
		k = va_arg(ap, const char *);
	}
	if (!first)
		put(p, "}");
}

/* "name{labels} " */
static void
sample_head(struct prom *p, const char *name, va_list ap)
{
	put(p, "%s", name);
	labels(p, ap);
	put(p, " ");
}

void
prom_u64(struct prom *p, const char *name, uint64_t v, ...)
{
	va_list ap;

	va_start(ap, v);
	sample_head(p, name, ap);
	va_end(ap);
	put(p, "%llu\n", (unsigned long long)v);
}

static void
put_double(struct prom *p, double v)
{
	if (isinf(v))
		put(p, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		put(p, "NaN");
	else
		put(p, "%.17g", v);
}

void
prom_double(struct prom *p, const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	sample_head(p, name, ap);
	va_end(ap);
	put_double(p, v);
	put(p, "\n");
}

void
prom_histogram(struct prom *p, const char *name, const double *bounds,
	       const uint64_t *counts, size_t n, double sum, const char *lkey,
	       const char *lval)
{
	uint64_t cum = 0;

	for (size_t i = 0; i < n; i++) {
		cum += counts[i];
		put(p, "%s_bucket{", name);
		if (lkey) {
			put(p, "%s=\"", lkey);
			put_value(p, lval);
			put(p, "\",");
		}
		put(p, "le=\"");
		if (i + 1 < n)
			put(p, "%g", bounds[i]);
		else
			put(p, "+Inf");
		put(p, "\"} %llu\n", (unsigned long long)cum);
	}
	put(p, "%s_sum", name);
	if (lkey) {
		put(p, "{%s=\"", lkey);
		put_value(p, lval);
		put(p, "\"}");
	}
	put(p, " ");
	put_double(p, sum);
	put(p, "\n%s_count", name);
	if (lkey) {
		put(p, "{%s=\"", lkey);
		put_value(p, lval);
		put(p, "\"}");
	}
	put(p, " %llu\n", (unsigned long long)cum);
}
