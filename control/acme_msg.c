/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "control/acme_msg.h"

static json_t *
load(const char *json, size_t len, char *err, size_t errlen)
{
	json_error_t e;
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);

	if (!j) {
		snprintf(err, errlen, "not JSON: %s", e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "not a JSON object");
		return NULL;
	}
	return j;
}

/* A string member copied into out; -1 when missing, not a string or too
 * long (optional members: pass required = false). */
static int
get_str(json_t *o, const char *key, char *out, size_t outlen, bool required,
	char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (!v && !required)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= outlen ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "\"%s\" is missing, not a string or too long", key);
		return -1;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int
status_of(json_t *o)
{
	static const char *const names[] = {
		[ACME_ST_PENDING] = "pending", [ACME_ST_READY] = "ready",
		[ACME_ST_PROCESSING] = "processing", [ACME_ST_VALID] = "valid",
		[ACME_ST_INVALID] = "invalid",
	};
	const char *s = json_string_value(json_object_get(o, "status"));

	for (int i = ACME_ST_PENDING; s && i <= ACME_ST_INVALID; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return ACME_ST_UNKNOWN;
}

static bool
https_url(const char *u)
{
	return strncasecmp(u, "https://", 8) == 0 && !strpbrk(u, " \r\n\t");
}

int
acme_parse_directory(const char *json, size_t len, struct acme_directory *d,
		     char *err, size_t errlen)
{
	json_t *j = load(json, len, err, errlen);
	int rc = -1;

	if (!j)
		return -1;
	if (get_str(j, "newNonce", d->new_nonce, sizeof(d->new_nonce), true, err, errlen) ||
	    get_str(j, "newAccount", d->new_account, sizeof(d->new_account), true, err, errlen) ||
	    get_str(j, "newOrder", d->new_order, sizeof(d->new_order), true, err, errlen))
		goto out;
	if (!https_url(d->new_nonce) || !https_url(d->new_account) ||
	    !https_url(d->new_order)) {
		snprintf(err, errlen, "directory URLs must be https://");
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int
acme_parse_order(const char *json, size_t len, struct acme_order *o,
		 char *err, size_t errlen)
{
	json_t *j = load(json, len, err, errlen), *az, *v;
	size_t i;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	if (!j)
		return -1;
	o->status = status_of(j);
	if (o->status == ACME_ST_UNKNOWN) {
		snprintf(err, errlen, "order without a known status");
		goto out;
	}
	if (get_str(j, "finalize", o->finalize, sizeof(o->finalize), true, err, errlen) ||
	    get_str(j, "certificate", o->certificate, sizeof(o->certificate), false,
		    err, errlen))
		goto out;
	az = json_object_get(j, "authorizations");
	if (!json_is_array(az) || json_array_size(az) == 0 ||
	    json_array_size(az) > ACME_MAX_AUTHZ) {
		snprintf(err, errlen, "\"authorizations\" must list 1..%d URLs", ACME_MAX_AUTHZ);
		goto out;
	}
	json_array_foreach(az, i, v) {
		if (!json_is_string(v) || json_string_length(v) >= ACME_URL_LEN ||
		    !https_url(json_string_value(v))) {
			snprintf(err, errlen, "authorization %zu is not an https URL", i);
			goto out;
		}
		strcpy(o->authz[o->nb_authz++], json_string_value(v));
	}
	if (!https_url(o->finalize) || (*o->certificate && !https_url(o->certificate))) {
		snprintf(err, errlen, "order URLs must be https://");
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int
acme_parse_authz(const char *json, size_t len, struct acme_authz *a,
		 char *err, size_t errlen)
{
	json_t *j = load(json, len, err, errlen), *chs, *c, *id;
	size_t i;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (!j)
		return -1;
	a->status = status_of(j);
	id = json_object_get(j, "identifier");
	if (a->status == ACME_ST_UNKNOWN || !json_is_object(id) ||
	    get_str(id, "value", a->identifier, sizeof(a->identifier), true, err, errlen)) {
		if (a->status == ACME_ST_UNKNOWN)
			snprintf(err, errlen, "authorization without a known status or identifier");
		goto out;
	}
	chs = json_object_get(j, "challenges");
	if (!json_is_array(chs)) {
		snprintf(err, errlen, "\"challenges\" is not an array");
		goto out;
	}
	json_array_foreach(chs, i, c) {
		struct acme_challenge *ch = &a->ch[a->nb_challenges];

		if (a->nb_challenges == ACME_MAX_CHALLENGES)
			break;
		if (!json_is_object(c) ||
		    get_str(c, "type", ch->type, sizeof(ch->type), true, err, errlen) ||
		    get_str(c, "url", ch->url, sizeof(ch->url), true, err, errlen) ||
		    get_str(c, "token", ch->token, sizeof(ch->token), false, err, errlen))
			continue;	/* a kind we cannot read is a kind we skip */
		if (!https_url(ch->url) || (*ch->token && !acme_b64url_valid(ch->token)))
			continue;
		ch->status = status_of(c);
		a->nb_challenges++;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

void
acme_parse_problem(const char *json, size_t len, struct acme_problem *p)
{
	char err[64];
	json_t *j = load(json, len, err, sizeof(err));

	memset(p, 0, sizeof(*p));
	if (!j)
		return;
	if (get_str(j, "type", p->type, sizeof(p->type), true, err, sizeof(err)))
		p->type[0] = '\0';
	json_t *d = json_object_get(j, "detail");
	if (json_is_string(d))
		snprintf(p->detail, sizeof(p->detail), "%s", json_string_value(d));
	/* the detail goes into a log line: no quotes or line breaks */
	for (char *c = p->detail; *c; c++)
		if (*c == '"' || *c == '\n' || *c == '\r' || (unsigned char)*c < 0x20)
			*c = '\'';
	json_decref(j);
}

const struct acme_challenge *
acme_authz_challenge(const struct acme_authz *a, const char *type)
{
	for (unsigned int i = 0; i < a->nb_challenges; i++)
		if (strcmp(a->ch[i].type, type) == 0 && *a->ch[i].token)
			return &a->ch[i];
	return NULL;
}

long
acme_retry_after(const char *value, time_t now)
{
	struct tm tm;
	char *end;
	long s;

	if (!value || !*value)
		return -1;
	s = strtol(value, &end, 10);
	if (end != value && *end == '\0')
		return s < 0 ? -1 : s;
	memset(&tm, 0, sizeof(tm));
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return -1;
	s = (long)(timegm(&tm) - now);
	return s < 0 ? 0 : s;
}

size_t
acme_b64url(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

	/* libsodium aborts on a short buffer: check first */
	if (outlen < sodium_base64_ENCODED_LEN(n, v))
		return 0;
	sodium_bin2base64(out, outlen, in, n, v);
	return strlen(out);
}

bool
acme_b64url_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}
