/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key table: one row per configuration key with its type, bounds,
 * default, derper flag, DERP_* environment variable, reloadability and a
 * one-line description. It is the single source of truth for parsing,
 * validation of single values, `derper --help`, `--print-config` and the
 * documentation in config/derper.conf.example.
 *
 * Everything here is pure: no I/O, no globals besides the const table.
 */
#ifndef DERPER_CONFIG_SCHEMA_H
#define DERPER_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum cfg_type {
	CFG_T_BOOL,	/* bool */
	CFG_T_INT,	/* int64_t, [min, max] */
	CFG_T_DOUBLE,	/* double, [min, max] */
	CFG_T_STRING,	/* char[size], strlen < size */
	CFG_T_ENUM,	/* int64_t index into choices */
	CFG_T_STRLIST,	/* struct cfg_strlist */
	CFG_T_PORTS,	/* dataplane.ports: a list of groups (see CFG_F_PORT) */
};

enum cfg_key_flags {
	CFG_F_RELOADABLE = 1 << 0,	/* may change on SIGHUP */
	CFG_F_SECRET = 1 << 1,		/* redact credentials when printed */
	CFG_F_DURATION = 1 << 2,	/* flag takes a Go duration ("10m") */
	CFG_F_PORT = 1 << 3,		/* a field of one dataplane.ports entry */
	CFG_F_INF_ZERO = 1 << 4,	/* flag value "+Inf"/max means 0 */
};

struct cfg_key {
	const char *name;	/* dotted path: "stun.port" */
	enum cfg_type type;
	size_t offset;		/* in struct derper_config, or struct cfg_port */
	size_t size;		/* CFG_T_STRING: buffer size */
	int64_t min, max;	/* CFG_T_INT; CFG_T_DOUBLE uses them as bounds */
	const char *const *choices; /* CFG_T_ENUM: NULL-terminated */
	const char *def;	/* default, as text (parsed like env values) */
	const char *flag;	/* derper-compatible flag without dashes, or NULL */
	const char *env;	/* DERP_* variable, or NULL */
	unsigned int flags;	/* enum cfg_key_flags */
	const char *help;	/* one line */
	const char *example;	/* value shown in derper.conf.example, if not def */
};

/* The table and its length. Thread-safe (const). */
const struct cfg_key *cfg_schema_keys(void);
unsigned int cfg_schema_nb_keys(void);

/* Index of a key by its dotted name, or -1. */
int cfg_schema_find(const char *name);

/* Row of a key, by index. */
const struct cfg_key *cfg_schema_key(unsigned int idx);

/*
 * The closest key name to `name` for "did you mean" hints, or NULL when
 * nothing is close (edit distance > 1/3 of the length, at most 3).
 */
const char *cfg_schema_suggest(const char *name);

/* Address of the field of `key` inside `cfg` (or inside `port` for
 * CFG_F_PORT keys). */
void *cfg_schema_field(const struct cfg_key *key, struct derper_config *cfg,
		       struct cfg_port *port);

/*
 * Parse `text` as the value of `key` and store it, checking type and
 * bounds. Used for defaults, environment variables, flags and --set.
 * Booleans follow Go's strconv.ParseBool (1 t T TRUE true True 0 f F FALSE
 * false False); lists are comma-separated; durations (CFG_F_DURATION, only
 * when `duration` is true) follow Go's time.ParseDuration and must be whole
 * seconds. Returns 0, or -EINVAL with a message in err ("70000 is out of
 * range 1..65535") that does not repeat the key name.
 */
int cfg_value_parse(const struct cfg_key *key, const char *text,
		    bool duration, void *field, char *err, size_t errlen);

/* Range check for an integer value of `key`; same error convention. */
int cfg_value_check_int(const struct cfg_key *key, int64_t v, char *err,
			size_t errlen);

/* Range check for a floating point value of `key`. */
int cfg_value_check_double(const struct cfg_key *key, double v, char *err,
			   size_t errlen);

/* Store a string after checking its length. */
int cfg_value_set_string(const struct cfg_key *key, const char *s,
			 void *field, char *err, size_t errlen);

/* Look up an enum choice, case-sensitively; -EINVAL with the choices. */
int cfg_value_set_enum(const struct cfg_key *key, const char *s, void *field,
		       char *err, size_t errlen);

/* Append one element to a list; -EINVAL when full or too long. */
int cfg_value_list_append(const struct cfg_key *key, const char *s,
			  void *field, char *err, size_t errlen);

/*
 * Format the value of `key` as derper.conf syntax into buf ("3478",
 * "\"derp.example.com\"", "[ \"a\", \"b\" ]"). Secrets are redacted when
 * `redact` is set. Returns buf.
 */
const char *cfg_value_format(const struct cfg_key *key, const void *field,
			     bool redact, char *buf, size_t len);

/* Parse a Go duration ("1h2m3.5s", "500ms", "0") into nanoseconds. */
int cfg_parse_go_duration(const char *s, int64_t *ns);

#endif /* DERPER_CONFIG_SCHEMA_H */
