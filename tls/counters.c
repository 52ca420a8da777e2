/* SPDX-License-Identifier: BSD-3-Clause */
#include "tls/counters.h"

const char *
tls_close_reason_name(int reason)
{
	static const char *const names[TLS_CLOSE_NB] = {
		[TLS_CLOSE_EOF] = "eof",
		[TLS_CLOSE_READ_ERROR] = "read_error",
		[TLS_CLOSE_WRITE_ERROR] = "write_error",
		[TLS_CLOSE_WRITE_TIMEOUT] = "write_timeout",
		[TLS_CLOSE_TLS_HANDSHAKE] = "tls_handshake",
		[TLS_CLOSE_HANDSHAKE_TIMEOUT] = "handshake_timeout",
		[TLS_CLOSE_HTTP_BAD_REQUEST] = "http_bad_request",
		[TLS_CLOSE_HTTP_DONE] = "http_done",
		[TLS_CLOSE_BAD_FRAME] = "bad_frame",
		[TLS_CLOSE_BAD_CLIENT_INFO] = "bad_client_info",
		[TLS_CLOSE_NOT_MESH] = "not_mesh",
		[TLS_CLOSE_WEBSOCKET] = "websocket",
		[TLS_CLOSE_TABLE_FULL] = "table_full",
		[TLS_CLOSE_DUPLICATE] = "duplicate",
		[TLS_CLOSE_NO_MEMORY] = "no_memory",
		[TLS_CLOSE_SHUTDOWN] = "shutdown",
		[TLS_CLOSE_LIMIT] = "max_sessions",
		[TLS_CLOSE_MESH_CLOSE_PEER] = "mesh_close_peer",
		[TLS_CLOSE_VERIFY_REJECTED] = "verify_rejected",
		[TLS_CLOSE_VERIFY_TIMEOUT] = "verify_timeout",
		[TLS_CLOSE_VERIFY_OVERLOAD] = "verify_overload",
		[TLS_CLOSE_TLS_RECORD] = "tls_record",
		[TLS_CLOSE_ACME_ALPN] = "acme_tls_alpn",
		[TLS_CLOSE_ACCEPT_RATE] = "accept_rate",
	};

	return reason >= 0 && reason < TLS_CLOSE_NB ? names[reason] : "unknown";
}

const char *
tls_transport_name(int t)
{
	static const char *const names[TLS_TR_NB] = {"tls", "plain", "websocket"};

	return t >= 0 && t < TLS_TR_NB ? names[t] : "unknown";
}

const char *
tls_drop_reason_name(int reason)
{
	static const char *const names[TLS_DROP_NB] = {
		[TLS_DROP_QUEUE_HEAD] = "queue_head",
		[TLS_DROP_GONE] = "gone_disconnected",
		[TLS_DROP_WRITE_ERROR] = "write_error",
		[TLS_DROP_RING_FULL] = "ring_full",
		[TLS_DROP_NO_MBUF] = "no_mbuf",
		[TLS_DROP_QUEUE_BYTES] = "queue_bytes",
		[TLS_DROP_OVER_BUDGET] = "over_budget",
		[TLS_DROP_POOL_RESERVE] = "pool_reserve",
	};

	return reason >= 0 && reason < TLS_DROP_NB ? names[reason] : "unknown";
}
