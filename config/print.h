/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rendering the key table: derper --help, --print-config (the effective
 * merged configuration, secrets redacted) and the documented example file
 * config/derper.conf.example (generated, and checked by a test to match).
 */
#ifndef DERPER_CONFIG_PRINT_H
#define DERPER_CONFIG_PRINT_H

#include <stdio.h>

#include "config/config.h"

/* The effective configuration in derper.conf syntax, each value with a
 * comment naming where it came from. Credentials in URLs are redacted. */
void cfg_print(FILE *out, const struct derper_config *cfg);

/* Every key with its default and description, as derper.conf. */
void cfg_print_example(FILE *out);

/* Usage: our options, derper's flags, environment variables, keys. */
void cfg_print_help(FILE *out, const char *argv0);

#endif /* DERPER_CONFIG_PRINT_H */
