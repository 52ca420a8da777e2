/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tls/client_info.h"
#include "tls/handshake.h"
#include "tls/keyfile.h"

static int
field(const char *k, json_t *v, struct client_info *ci)
{
	if (strcasecmp(k, "meshKey") == 0) {
		const char *s = json_string_value(v);

		if (!s || tls_key_from_hex(s, json_string_length(v), ci->mesh_key))
			return -EINVAL;
		ci->has_mesh_key = !tls_key_is_zero(ci->mesh_key);
		return 0;
	}
	/* Go leaves a field alone for JSON null */
	if (json_is_null(v))
		return 0;
	if (strcasecmp(k, "version") == 0) {
		if (!json_is_integer(v))
			return -EINVAL;
		ci->version = json_integer_value(v);
	} else if (strcasecmp(k, "CanAckPings") == 0) {
		if (!json_is_boolean(v))
			return -EINVAL;
		ci->can_ack_pings = json_is_true(v);
	} else if (strcasecmp(k, "IsProber") == 0) {
		if (!json_is_boolean(v))
			return -EINVAL;
		ci->is_prober = json_is_true(v);
	} else if (strcasecmp(k, "AppName") == 0) {
		if (!json_is_string(v))
			return -EINVAL;
	}
	return 0;
}

int
client_info_parse(const uint8_t *json, size_t len, struct client_info *ci)
{
	json_error_t err;
	json_t *root, *v;
	const char *k;
	int rc = 0;

	memset(ci, 0, sizeof(*ci));
	root = json_loadb((const char *)json, len, JSON_DECODE_ANY, &err);
	if (!root)
		return -EINVAL;
	if (!json_is_object(root)) {
		/* Go decodes null into a struct as "nothing to do" */
		rc = json_is_null(root) ? 0 : -EINVAL;
		json_decref(root);
		return rc;
	}
	json_object_foreach(root, k, v) {
		rc = field(k, v, ci);
		if (rc)
			break;
	}
	json_decref(root);
	return rc;
}
