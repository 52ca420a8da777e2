/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a reload (SIGHUP) may change: the keys flagged reloadable in the
 * schema. cfg_fixed_changes() names the others that differ between the
 * running snapshot and a new one, so the reload can be refused with them.
 */
#ifndef DERPER_CONFIG_DIFF_H
#define DERPER_CONFIG_DIFF_H

#include <stddef.h>

#include "config/config.h"

/* Number of non-reloadable keys whose values differ; their names, comma
 * separated, in out. Pure. */
unsigned int cfg_fixed_changes(const struct derper_config *a,
			       const struct derper_config *b, char *out,
			       size_t outlen);

/* Number of reloadable keys whose values differ, named in out. */
unsigned int cfg_reloadable_changes(const struct derper_config *a,
				    const struct derper_config *b, char *out,
				    size_t outlen);

#endif /* DERPER_CONFIG_DIFF_H */
