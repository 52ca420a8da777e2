/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/diff.h"
#include "config/schema.h"

static bool
same(const struct cfg_key *k, const struct derper_config *a,
     const struct derper_config *b)
{
	const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;

	switch (k->type) {
	case CFG_T_BOOL:
		return *(const bool *)pa == *(const bool *)pb;
	case CFG_T_INT:
	case CFG_T_ENUM:
		return *(const int64_t *)pa == *(const int64_t *)pb;
	case CFG_T_DOUBLE:
		return *(const double *)pa == *(const double *)pb;
	case CFG_T_STRING:
		return strcmp(pa, pb) == 0;
	case CFG_T_STRLIST: {
		const struct cfg_strlist *la = (const void *)pa, *lb = (const void *)pb;

		if (la->n != lb->n)
			return false;
		for (unsigned int i = 0; i < la->n; i++)
			if (strcmp(la->v[i], lb->v[i]))
				return false;
		return true;
	}
	case CFG_T_PORTS:
		if (a->dataplane.nb_ports != b->dataplane.nb_ports)
			return false;
		for (unsigned int i = 0; i < a->dataplane.nb_ports; i++) {
			const struct cfg_port *x = &a->dataplane.ports[i], *y = &b->dataplane.ports[i];

			if (strcmp(x->device, y->device) || x->mode != y->mode ||
			    strcmp(x->address, y->address) || strcmp(x->exception, y->exception) ||
			    strcmp(x->exception_iface, y->exception_iface) ||
			    strcmp(x->gateway, y->gateway))
				return false;
		}
		return true;
	}
	return false;
}

static unsigned int
changes(const struct derper_config *a, const struct derper_config *b,
	bool reloadable, char *out, size_t outlen)
{
	unsigned int n = 0;
	size_t o = 0;

	if (outlen)
		out[0] = '\0';
	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);

		if ((k->flags & CFG_F_PORT) ||
		    !(k->flags & CFG_F_RELOADABLE) != !reloadable || same(k, a, b))
			continue;
		n++;
		if (o < outlen)
			o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", k->name);
	}
	return n;
}

unsigned int
cfg_fixed_changes(const struct derper_config *a, const struct derper_config *b,
		  char *out, size_t outlen)
{
	return changes(a, b, false, out, outlen);
}

unsigned int
cfg_reloadable_changes(const struct derper_config *a,
		       const struct derper_config *b, char *out, size_t outlen)
{
	return changes(a, b, true, out, outlen);
}
