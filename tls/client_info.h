/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ClientInfo JSON inside the opened box (docs/protocol.md §5.4),
 * decoded as Go's encoding/json would: keys match case-insensitively,
 * unknown keys are ignored, trailing data is an error, a wrongly typed
 * known field is an error, and a meshKey that is not exactly 64 hex digits
 * (including "" and null) is an error. Pure; fuzzed.
 */
#ifndef DERPER_TLS_CLIENT_INFO_H
#define DERPER_TLS_CLIENT_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/derp_wire.h"

struct client_info {
	bool has_mesh_key;
	uint8_t mesh_key[DERP_KEY_LEN];
	int64_t version;
	bool can_ack_pings;
	bool is_prober;
};

/* 0 or -EINVAL (the connection is closed). */
int client_info_parse(const uint8_t *json, size_t len, struct client_info *ci);

#endif /* DERPER_TLS_CLIENT_INFO_H */
