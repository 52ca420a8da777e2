/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct derper_config: the one validated, immutable configuration of the
 * relay. It is built by cfg_load() from defaults, derper.conf, the DERP_*
 * environment and command-line flags (in that order of increasing
 * precedence) and is never edited once built: a reload builds a new one.
 *
 * Every field here has exactly one row in the key table (config/schema.c),
 * which holds its name, default, bounds, flag, environment variable and
 * one-line description.
 *
 * Strings are stored inline (fixed arrays) so that a snapshot is a single
 * allocation that can be copied and freed without ownership questions.
 */
#ifndef DERPER_CONFIG_CONFIG_H
#define DERPER_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"

enum cfg_limits {
	CFG_HOST_LEN = 256,	/* DNS name (253) or IP literal, NUL included */
	CFG_PATH_LEN = 1024,	/* file system paths */
	CFG_URL_LEN = 2048,	/* URLs */
	CFG_ADDR_LEN = 128,	/* "[v6addr%zone]:port" */
	CFG_ITEM_LEN = 256,	/* one element of a string list */
	CFG_LIST_MAX = 64,	/* elements of a string list */
	CFG_PORTS_MAX = 16,	/* dataplane.ports entries */
	CFG_DEVICE_LEN = 512,	/* a DPDK device string with its arguments */
	CFG_LCORES_LEN = 128,	/* "1-3,5" */
};

enum cfg_cert_mode {
	CFG_CERT_LETSENCRYPT,
	CFG_CERT_MANUAL,
	CFG_CERT_SELFSIGNED,
};

enum cfg_port_mode {
	CFG_PORT_SHARED,	/* kernel keeps the netdev; only STUN to DPDK */
	CFG_PORT_EXCLUSIVE,	/* DPDK owns the port; exception path to kernel */
};

enum cfg_idle {
	CFG_IDLE_POLL,		/* spin: dedicated cores */
	CFG_IDLE_ADAPTIVE,	/* back off when idle: shared cores */
};

enum cfg_hugepages {
	CFG_HUGE_AUTO,		/* use hugepages when mounted, else --no-huge */
	CFG_HUGE_REQUIRE,	/* refuse to start without hugepages */
	CFG_HUGE_NEVER,		/* always --no-huge */
};

enum cfg_log_level {
	CFG_LOG_ERROR = LOG_LEVEL_ERROR,
	CFG_LOG_WARN = LOG_LEVEL_WARN,
	CFG_LOG_INFO = LOG_LEVEL_INFO,
	CFG_LOG_DEBUG = LOG_LEVEL_DEBUG,
};

struct cfg_strlist {
	unsigned int n;
	char v[CFG_LIST_MAX][CFG_ITEM_LEN];
};

struct cfg_port {
	char device[CFG_DEVICE_LEN];
	int64_t mode;			/* enum cfg_port_mode */
	char address[CFG_ADDR_LEN];	/* "198.18.0.1/24" or "" */
	char exception[CFG_DEVICE_LEN];	/* exclusive: kernel path PMD */
	char exception_iface[16];	/* exclusive: kernel iface name */
	char gateway[CFG_ADDR_LEN];	/* exclusive: next hop for replies */
};

/*
 * Where a value came from, for error messages ("derper.conf:12"),
 * --print-config and refusing reloads of fixed keys.
 */
enum cfg_source {
	CFG_SRC_DEFAULT,
	CFG_SRC_FILE,
	CFG_SRC_ENV,
	CFG_SRC_FLAG,
};

struct cfg_origin {
	uint8_t source;		/* enum cfg_source */
	uint32_t line;		/* CFG_SRC_FILE: line in file */
	char name[64];		/* env variable or flag name as given */
};

/* Number of rows in the key table; checked against the table at start. */
#define CFG_NB_KEYS 66

struct derper_config {
	char hostname[CFG_HOST_LEN];
	char listen[CFG_ADDR_LEN];
	int64_t http_port;
	char key_file[CFG_PATH_LEN];
	bool derp;
	char home[CFG_URL_LEN];
	bool dev;

	struct {
		int64_t mode;		/* enum cfg_cert_mode */
		char dir[CFG_PATH_LEN];
		char acme_directory[CFG_URL_LEN];
		char acme_email[CFG_HOST_LEN];
		char acme_ca_file[CFG_PATH_LEN];
	} cert;

	struct {
		bool enabled;
		int64_t port;
		bool tailscale_only;
		int64_t rate_limit_pps;		/* per source, 0 = off */
		int64_t rate_limit_burst;
	} stun;

	struct {
		bool clients;
		char socket[CFG_PATH_LEN];
		char url[CFG_URL_LEN];
		bool url_fail_open;
		int64_t timeout_s;		/* verdict deadline per client */
		int64_t refresh_ms;		/* status mode: peer list refresh */
		int64_t cache_ttl_s;		/* admitted keys remembered */
		int64_t negative_ttl_s;		/* rejected keys remembered */
	} verify;

	struct {
		char psk_file[CFG_PATH_LEN];
		struct cfg_strlist peers;
		char ca_file[CFG_PATH_LEN];
	} mesh;

	struct {
		double accept_rate;		/* connections/s, 0 = unlimited */
		int64_t accept_burst;
		int64_t client_bytes_per_sec;	/* 0 = unlimited */
		int64_t client_burst_bytes;
		int64_t send_queue_depth;
		int64_t send_queue_bytes;
		int64_t max_sessions;		/* 0 = unlimited */
		int64_t tcp_keepalive_s;
		int64_t tcp_user_timeout_s;
		int64_t tcp_write_timeout_s;
		int64_t handshake_timeout_s;
		int64_t http_head_timeout_s;
		int64_t http_head_max_bytes;
	} limits;

	struct {
		int64_t reconnect_in_ms;
		int64_t try_for_ms;
		int64_t drain_timeout_s;
	} shutdown;

	struct {
		char listen[CFG_ADDR_LEN];
	} metrics;

	struct {
		int64_t level;		/* enum cfg_log_level */
	} log;

	struct {
		struct cfg_strlist eal;
		char lcores[CFG_LCORES_LEN];
		int64_t tls_threads;
		int64_t idle;		/* enum cfg_idle */
		int64_t spin_us;	/* adaptive: spin before a nap */
		int64_t nap_us;		/* adaptive: a nap while ports are polled */
		int64_t hugepages;	/* enum cfg_hugepages */
		int64_t memory_mb;
		int64_t mbufs;
		int64_t ring_size;
		int64_t table_size;
		int64_t rx_desc;
		int64_t tx_desc;
		unsigned int nb_ports;
		struct cfg_port ports[CFG_PORTS_MAX];
		struct cfg_origin port_origin[CFG_PORTS_MAX];
	} dataplane;

	/* Not keys: where the file came from and where each key came from. */
	char source_path[CFG_PATH_LEN];	/* "" when no file was read */
	struct cfg_origin origin[CFG_NB_KEYS];
};

#endif /* DERPER_CONFIG_CONFIG_H */
