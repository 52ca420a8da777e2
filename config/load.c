/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Walks the libconfig tree and applies every setting through the key table.
 * Nothing is ignored: a setting the table does not know is an error with a
 * "did you mean" hint, and a value of the wrong type is an error naming the
 * expected type.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <libconfig.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "config/load.h"
#include "config/schema.h"

struct walk {
	struct derper_config *cfg;
	const char *path;
	struct cfg_errors *errs;
};

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ]";
	case CONFIG_TYPE_LIST:
		return "a list ( )";
	default:
		return "nothing";
	}
}

static const char *
expected_name(enum cfg_type t)
{
	switch (t) {
	case CFG_T_BOOL:
		return "a boolean (true or false)";
	case CFG_T_INT:
		return "an integer";
	case CFG_T_DOUBLE:
		return "a number";
	case CFG_T_STRING:
	case CFG_T_ENUM:
		return "a string";
	case CFG_T_STRLIST:
		return "a list of strings [ \"a\", \"b\" ]";
	case CFG_T_PORTS:
		return "a list of groups ( { device = \"...\"; }, ... )";
	}
	return "?";
}

static struct cfg_origin
origin_of(const struct walk *w, const config_setting_t *s)
{
	struct cfg_origin o = {.source = CFG_SRC_FILE,
			       .line = config_setting_source_line(s)};
	const char *file = config_setting_source_file(s);

	/* Settings from an @include'd file name that file. */
	if (file && strcmp(file, w->path) != 0)
		snprintf(o.name, sizeof(o.name), "%s", file);
	return o;
}

static void
error_at(const struct walk *w, const config_setting_t *s, const char *key,
	 const char *text)
{
	struct cfg_origin o = origin_of(w, s);

	cfg_error_add(w->errs, &o, w->path, key, "%s", text);
}

static void
unknown_key(const struct walk *w, const config_setting_t *s,
	    const char *name)
{
	const char *hint = cfg_schema_suggest(name);
	char text[CFG_ERROR_LEN];

	if (hint)
		snprintf(text, sizeof(text), "unknown key (did you mean %s?)",
			 hint);
	else
		snprintf(text, sizeof(text), "unknown key");
	error_at(w, s, name, text);
}

static void
wrong_type(const struct walk *w, const config_setting_t *s,
	   const struct cfg_key *key)
{
	char text[CFG_ERROR_LEN];

	snprintf(text, sizeof(text), "expected %s, got %s",
		 expected_name(key->type),
		 type_name(config_setting_type(s)));
	error_at(w, s, key->name, text);
}

/* Store one scalar or list setting into `field`. */
static int
apply_value(const struct walk *w, const config_setting_t *s,
	    const struct cfg_key *key, void *field)
{
	int type = config_setting_type(s);
	char err[CFG_ERROR_LEN] = "";
	int rc = -EINVAL;

	switch (key->type) {
	case CFG_T_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			goto bad_type;
		*(bool *)field = config_setting_get_bool(s);
		return 0;
	case CFG_T_INT: {
		long long v;

		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			goto bad_type;
		v = config_setting_get_int64(s);
		rc = cfg_value_check_int(key, v, err, sizeof(err));
		if (rc == 0)
			*(int64_t *)field = v;
		break;
	}
	case CFG_T_DOUBLE: {
		double v;

		if (type == CONFIG_TYPE_FLOAT)
			v = config_setting_get_float(s);
		else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			v = (double)config_setting_get_int64(s);
		else
			goto bad_type;
		rc = cfg_value_check_double(key, v, err, sizeof(err));
		if (rc == 0)
			*(double *)field = v;
		break;
	}
	case CFG_T_STRING:
		if (type != CONFIG_TYPE_STRING)
			goto bad_type;
		rc = cfg_value_set_string(key, config_setting_get_string(s),
					  field, err, sizeof(err));
		break;
	case CFG_T_ENUM:
		if (type != CONFIG_TYPE_STRING)
			goto bad_type;
		rc = cfg_value_set_enum(key, config_setting_get_string(s),
					field, err, sizeof(err));
		break;
	case CFG_T_STRLIST: {
		struct cfg_strlist *l = field;

		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			goto bad_type;
		l->n = 0;
		rc = 0;
		for (int i = 0; i < config_setting_length(s) && rc == 0; i++) {
			config_setting_t *e = config_setting_get_elem(s, i);

			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				wrong_type(w, e, key);
				return -EINVAL;
			}
			rc = cfg_value_list_append(key,
						   config_setting_get_string(e),
						   field, err, sizeof(err));
		}
		break;
	}
	case CFG_T_PORTS:
		goto bad_type;
	}
	if (rc)
		error_at(w, s, key->name, err);
	return rc;
bad_type:
	wrong_type(w, s, key);
	return -EINVAL;
}

static void
set_origin(struct derper_config *cfg, int idx, struct cfg_origin o)
{
	cfg->origin[idx] = o;
}

static int
apply_port(const struct walk *w, const config_setting_t *g, unsigned int i)
{
	struct derper_config *cfg = w->cfg;
	struct cfg_port *port = &cfg->dataplane.ports[i];
	bool have_device = false;
	int rc = 0;

	/* Port defaults first: the entry may leave mode or address out. */
	memset(port, 0, sizeof(*port));
	for (unsigned int k = 0; k < cfg_schema_nb_keys(); k++) {
		const struct cfg_key *key = cfg_schema_key(k);
		char err[CFG_ERROR_LEN];

		if (key->flags & CFG_F_PORT)
			cfg_value_parse(key, key->def, false,
					cfg_schema_field(key, cfg, port), err,
					sizeof(err));
	}
	cfg->dataplane.port_origin[i] = origin_of(w, g);

	for (int e = 0; e < config_setting_length(g); e++) {
		config_setting_t *s = config_setting_get_elem(g, e);
		char name[CFG_ITEM_LEN];
		const struct cfg_key *key;
		int idx;

		snprintf(name, sizeof(name), "dataplane.ports.%s",
			 config_setting_name(s));
		idx = cfg_schema_find(name);
		key = idx >= 0 ? cfg_schema_key((unsigned int)idx) : NULL;
		if (!key || !(key->flags & CFG_F_PORT)) {
			unknown_key(w, s, name);
			rc = -EINVAL;
			continue;
		}
		if (apply_value(w, s, key, cfg_schema_field(key, cfg, port)))
			rc = -EINVAL;
		if (idx == cfg_schema_find("dataplane.ports.device"))
			have_device = true;
	}
	if (!have_device) {
		error_at(w, g, "dataplane.ports.device",
			 "every port needs a device");
		rc = -EINVAL;
	}
	return rc;
}

static int
apply_ports(const struct walk *w, const config_setting_t *s,
	    const struct cfg_key *key)
{
	int n = config_setting_length(s);
	int rc = 0;

	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(s) == CONFIG_TYPE_ARRAY && n == 0)) {
		wrong_type(w, s, key);
		return -EINVAL;
	}
	if (n > CFG_PORTS_MAX) {
		char text[64];

		snprintf(text, sizeof(text), "%d ports, at most %d", n,
			 CFG_PORTS_MAX);
		error_at(w, s, key->name, text);
		return -EINVAL;
	}
	w->cfg->dataplane.nb_ports = 0;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(s, i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			wrong_type(w, g, key);
			rc = -EINVAL;
			continue;
		}
		if (apply_port(w, g, (unsigned int)i))
			rc = -EINVAL;
		w->cfg->dataplane.nb_ports = (unsigned int)i + 1;
	}
	return rc;
}

/* Is `prefix` the name of a group of keys ("limits", "dataplane")? */
static bool
is_group(const char *prefix)
{
	size_t n = strlen(prefix);

	for (unsigned int i = 0; i < cfg_schema_nb_keys(); i++) {
		const struct cfg_key *k = cfg_schema_key(i);

		if (!(k->flags & CFG_F_PORT) &&
		    strncmp(k->name, prefix, n) == 0 && k->name[n] == '.')
			return true;
	}
	return false;
}

static int
walk_group(const struct walk *w, const config_setting_t *group,
	   const char *prefix)
{
	int rc = 0;

	for (int i = 0; i < config_setting_length(group); i++) {
		config_setting_t *s = config_setting_get_elem(group, i);
		char name[CFG_ITEM_LEN];
		const struct cfg_key *key;
		int idx;

		snprintf(name, sizeof(name), "%s%s%s", prefix,
			 *prefix ? "." : "", config_setting_name(s));
		idx = cfg_schema_find(name);
		key = idx >= 0 ? cfg_schema_key((unsigned int)idx) : NULL;
		if (key && (key->flags & CFG_F_PORT))
			key = NULL;
		if (!key) {
			if (config_setting_is_group(s) && is_group(name)) {
				if (walk_group(w, s, name))
					rc = -EINVAL;
				continue;
			}
			if (is_group(name)) {
				char text[128];

				snprintf(text, sizeof(text), "expected a group { }, got %s",
					 type_name(config_setting_type(s)));
				error_at(w, s, name, text);
				rc = -EINVAL;
				continue;
			}
			unknown_key(w, s, name);
			rc = -EINVAL;
			continue;
		}
		if (key->type == CFG_T_PORTS) {
			if (apply_ports(w, s, key))
				rc = -EINVAL;
		} else if (apply_value(w, s, key,
				       cfg_schema_field(key, w->cfg, NULL))) {
			rc = -EINVAL;
		}
		set_origin(w->cfg, idx, origin_of(w, s));
	}
	return rc;
}

/*
 * Debian's libconfig 1.5 silently wraps a decimal literal beyond 32 bits
 * unless it carries an L suffix (10000000000 reads as 1410065408). Scan
 * the text for such literals first and refuse them with their line.
 */
static int
check_wide_ints(const char *text, const char *path, struct cfg_errors *errs)
{
	struct cfg_origin o = {.source = CFG_SRC_FILE, .line = 1};
	const char *p = text;
	int rc = 0;

	while (*p) {
		if (*p == '\n') {
			o.line++;
			p++;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				else if (*p == '\n')
					o.line++;
			}
			if (*p)
				p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p == '\n')
					o.line++;
			if (*p)
				p += 2;
		} else if (*p >= '0' && *p <= '9' &&
			   (p == text || !(isalnum((unsigned char)p[-1]) ||
					   p[-1] == '_' || p[-1] == '.'))) {
			const char *s = p;
			unsigned long long v = 0;
			bool big = false;

			if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
				p += 2;
				while (isxdigit((unsigned char)*p))
					p++;
				continue;
			}
			for (; *p >= '0' && *p <= '9'; p++) {
				v = v * 10 + (unsigned long long)(*p - '0');
				if (v > 2147483647ULL)
					big = true;
			}
			if (*p == '.' || *p == 'e' || *p == 'E' || *p == 'L' ||
			    *p == 'l')
				continue;	/* a float, or already 64-bit */
			if (big) {
				cfg_error_add(errs, &o, path, NULL,
					      "integer %.*s does not fit in 32 bits: write it as %.*sL",
					      (int)(p - s), s, (int)(p - s), s);
				rc = -EINVAL;
			}
		} else {
			p++;
		}
	}
	return rc;
}

static char *
read_text(const char *path, struct cfg_errors *errs, int *rc)
{
	struct cfg_origin o = {.source = CFG_SRC_FILE};
	enum { MAX_CONF = 1 << 20 };
	char *buf = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		*rc = -errno;
		cfg_error_add(errs, &o, path, NULL, "cannot open: %s",
			      strerror(errno));
		return NULL;
	}
	buf = malloc(MAX_CONF + 1);
	if (buf)
		n = fread(buf, 1, MAX_CONF + 1, f);
	fclose(f);
	if (!buf || n > MAX_CONF) {
		*rc = -EFBIG;
		cfg_error_add(errs, &o, path, NULL, "larger than 1 MiB");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		*rc = -EINVAL;
		cfg_error_add(errs, &o, path, NULL, "contains a NUL byte");
		free(buf);
		return NULL;
	}
	return buf;
}

int
cfg_file_apply(struct derper_config *cfg, const char *path, const char *text,
	       struct cfg_errors *errs)
{
	struct walk w = {.cfg = cfg, .path = path, .errs = errs};
	struct cfg_origin o = {.source = CFG_SRC_FILE};
	char dir[CFG_PATH_LEN];
	config_t lc;
	char *owned = NULL;
	int ok, rc = 0;

	snprintf(cfg->source_path, sizeof(cfg->source_path), "%s", path);
	if (!text) {
		owned = read_text(path, errs, &rc);
		if (!owned)
			return rc;
		text = owned;
	}
	if (check_wide_ints(text, path, errs)) {
		free(owned);
		return -EINVAL;
	}
	config_init(&lc);
	config_set_auto_convert(&lc, 0);
	snprintf(dir, sizeof(dir), "%s", path);
	config_set_include_dir(&lc, dirname(dir));
	ok = config_read_string(&lc, text);
	free(owned);
	if (!ok) {
		o.line = (uint32_t)config_error_line(&lc);
		if (config_error_file(&lc) &&
		    strcmp(config_error_file(&lc), path) != 0)
			snprintf(o.name, sizeof(o.name), "%s",
				 config_error_file(&lc));
		cfg_error_add(errs, &o, path, NULL, "%s",
			      config_error_text(&lc) ? config_error_text(&lc)
						     : "parse error");
		config_destroy(&lc);
		return -EINVAL;
	}
	rc = walk_group(&w, config_root_setting(&lc), "");
	config_destroy(&lc);
	return rc;
}
