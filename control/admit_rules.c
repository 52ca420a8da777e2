/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "control/admit_rules.h"
#include "tls/keyfile.h"

const char *
admit_reason_name(int reason)
{
	static const char *const names[ADMIT_REASON_NB] = {
		[ADMIT_OK] = "ok",
		[ADMIT_FAIL_OPEN] = "fail_open",
		[ADMIT_UNKNOWN_KEY] = "unknown_key",
		[ADMIT_VERSION_SKEW] = "version_skew",
		[ADMIT_LOCALAPI_STATUS] = "localapi_status",
		[ADMIT_LOCALAPI_DOWN] = "localapi_unreachable",
		[ADMIT_WEBHOOK_DENY] = "webhook_denied",
		[ADMIT_WEBHOOK_STATUS] = "webhook_status",
		[ADMIT_WEBHOOK_BODY] = "webhook_bad_body",
		[ADMIT_WEBHOOK_DOWN] = "webhook_unreachable",
		[ADMIT_TIMEOUT] = "timeout",
		[ADMIT_OVERLOAD] = "overload",
	};

	return reason >= 0 && reason < ADMIT_REASON_NB ? names[reason] : "unknown";
}

static struct admit_outcome
outcome(uint8_t verdict, uint8_t reason, bool cache)
{
	return (struct admit_outcome){verdict, reason, cache};
}

struct admit_outcome
admit_decide_localapi(bool reached, long status, const char *body, size_t len)
{
	json_t *j;
	bool object;

	if (!reached)
		return outcome(ADMIT_REJECT, ADMIT_LOCALAPI_DOWN, false);
	if (status == 404)
		return outcome(ADMIT_REJECT, ADMIT_UNKNOWN_KEY, true);
	if (status == 400 && body && memmem(body, len, "invalid 'addr' parameter", 24))
		return outcome(ADMIT_REJECT, ADMIT_VERSION_SKEW, true);
	if (status != 200 || !body)
		return outcome(ADMIT_REJECT, ADMIT_LOCALAPI_STATUS, true);
	/* derper unmarshals the body into WhoIsResponse: it must be a JSON
	 * object (or null); its contents are not examined */
	j = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	object = j && (json_is_object(j) || json_is_null(j));
	json_decref(j);
	return object ? outcome(ADMIT_ALLOW, ADMIT_OK, true)
		      : outcome(ADMIT_REJECT, ADMIT_LOCALAPI_STATUS, true);
}

struct admit_outcome
admit_decide_webhook(bool reached, long status, const char *body, size_t len,
		     bool fail_open)
{
	const char *k;
	json_t *j, *v;
	bool allow = false, ok = true;

	if (!reached)
		return fail_open ? outcome(ADMIT_ALLOW, ADMIT_FAIL_OPEN, false)
				 : outcome(ADMIT_REJECT, ADMIT_WEBHOOK_DOWN, false);
	if (status != 200)
		return outcome(ADMIT_REJECT, ADMIT_WEBHOOK_STATUS, true);
	if (len > ADMIT_WEBHOOK_BODY_MAX)
		len = ADMIT_WEBHOOK_BODY_MAX;
	/* Go's json.Decoder: the first JSON value; what follows it is not
	 * read. Field names match case-insensitively; the last one wins; a
	 * null leaves the field alone; any other type is an error. */
	j = body ? json_loadb(body, len, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, NULL) : NULL;
	if (!j || !(json_is_object(j) || json_is_null(j))) {
		json_decref(j);
		return outcome(ADMIT_REJECT, ADMIT_WEBHOOK_BODY, true);
	}
	if (json_is_object(j)) {
		json_object_foreach(j, k, v) {
			if (strcasecmp(k, "Allow") != 0)
				continue;
			if (json_is_boolean(v))
				allow = json_is_true(v);
			else if (!json_is_null(v))
				ok = false;
		}
	}
	json_decref(j);
	if (!ok)
		return outcome(ADMIT_REJECT, ADMIT_WEBHOOK_BODY, true);
	return allow ? outcome(ADMIT_ALLOW, ADMIT_OK, true)
		     : outcome(ADMIT_REJECT, ADMIT_WEBHOOK_DENY, true);
}

void
admit_source(const uint8_t ip[16], char *out, size_t len)
{
	static const uint8_t zero[16], v4mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (memcmp(ip, zero, 16) == 0) {
		if (len)
			out[0] = '\0';
		return;
	}
	if (memcmp(ip, v4mapped, 12) == 0) {
		if (!inet_ntop(AF_INET, ip + 12, out, (socklen_t)len) && len)
			out[0] = '\0';
		return;
	}
	if (!inet_ntop(AF_INET6, ip, out, (socklen_t)len) && len)
		out[0] = '\0';
}

/* "nodekey:" and 64 hex digits. */
static bool
node_key(const char *s, uint8_t key[32])
{
	return s && strncmp(s, "nodekey:", 8) == 0 && tls_key_from_hex(s + 8, strlen(s + 8), key) == 0;
}

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int
add_key(uint8_t (*keys)[32], size_t max, size_t *n, const uint8_t key[32])
{
	if (*n == max)
		return -E2BIG;
	memcpy(keys[(*n)++], key, 32);
	return 0;
}

int
admit_parse_status(const char *body, size_t len, uint8_t (*keys)[32], size_t max,
		   size_t *n)
{
	json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *self, *peers, *v;
	const char *k;
	uint8_t key[32];
	int rc = -EINVAL;
	size_t w = 0;

	*n = 0;
	if (!j || !json_is_object(j))
		goto out;
	self = json_object_get(j, "Self");
	if (!json_is_object(self) ||
	    !node_key(json_string_value(json_object_get(self, "PublicKey")), key))
		goto out;
	rc = add_key(keys, max, n, key);
	peers = json_object_get(j, "Peer");
	if (rc == 0 && json_is_object(peers)) {
		json_object_foreach(peers, k, v) {
			if (node_key(k, key) && (rc = add_key(keys, max, n, key)))
				break;
			if (json_is_object(v) &&
			    node_key(json_string_value(json_object_get(v, "PublicKey")), key) &&
			    (rc = add_key(keys, max, n, key)))
				break;
		}
	}
	if (rc)
		goto out;
	qsort(keys, *n, 32, key_cmp);
	for (size_t i = 0; i < *n; i++)
		if (w == 0 || memcmp(keys[w - 1], keys[i], 32))
			memmove(keys[w++], keys[i], 32);
	*n = w;
out:
	json_decref(j);
	if (rc)
		*n = 0;
	return rc;
}

bool
admit_key_in(const uint8_t (*keys)[32], size_t n, const uint8_t key[32])
{
	return n && bsearch(key, keys, n, 32, key_cmp) != NULL;
}
