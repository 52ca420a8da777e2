/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The key table (see schema.h) and the text-to-value conversions shared by
 * defaults, environment variables and flags. Values read from derper.conf
 * arrive typed from libconfig and go through the same setters and range
 * checks (load.c), so a key's bounds are written exactly once: here.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

#define F(field) offsetof(struct derper_config, field)
#define FS(field) sizeof(((struct derper_config *)0)->field)
#define P(field) offsetof(struct cfg_port, field)
#define PS(field) sizeof(((struct cfg_port *)0)->field)

static const char *const cert_modes[] = {"letsencrypt", "manual",
					 "selfsigned", NULL};
static const char *const port_modes[] = {"shared", "exclusive", NULL};
static const char *const idle_modes[] = {"poll", "adaptive", NULL};
static const char *const huge_modes[] = {"auto", "require", "never", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug",
					 NULL};

#define R CFG_F_RELOADABLE

static const struct cfg_key keys[] = {
	{"hostname", CFG_T_STRING, F(hostname), FS(hostname), 0, 0, NULL, "",
	 "hostname", "DERP_DOMAIN", 0,
	 "DNS name clients dial (TLS SNI and certificate name); an IP is allowed for manual/selfsigned certs",
	 .example = "derp.example.com"},
	{"listen", CFG_T_STRING, F(listen), FS(listen), 0, 0, NULL, ":443",
	 "a", "DERP_ADDR", 0,
	 "DERP listen address \":port\", \"ip:port\" or \"[ip6]:port\"; TLS is served on port 443, in manual and in selfsigned mode"},
	{"http_port", CFG_T_INT, F(http_port), 0, -1, 65535, NULL, "80",
	 "http-port", "DERP_HTTP_PORT", 0,
	 "plain HTTP port (ACME HTTP-01, captive-portal check, redirect to https) when TLS is served; -1 disables"},
	{"key_file", CFG_T_STRING, F(key_file), FS(key_file), 0, 0, NULL,
	 "/var/lib/derper/derper.key", "c", NULL, 0,
	 "derper's JSON key file {\"PrivateKey\":\"privkey:<hex>\"}, created with mode 0600 if missing"},
	{"derp", CFG_T_BOOL, F(derp), 0, 0, 0, NULL, "true", "derp", NULL, 0,
	 "serve DERP on /derp; false answers 404 (decommissioning)"},
	{"home", CFG_T_STRING, F(home), FS(home), 0, 0, NULL, "", "home",
	 NULL, 0,
	 "what / serves: \"\" the default page, \"blank\" an empty page, or an http(s) URL to redirect to"},
	{"dev", CFG_T_BOOL, F(dev), 0, 0, 0, NULL, "false", "dev", NULL, 0,
	 "derper's development mode: plain HTTP on :3340 and a fresh server key each start"},

	{"cert.mode", CFG_T_ENUM, F(cert.mode), 0, 0, 0, cert_modes,
	 "letsencrypt", "certmode", "DERP_CERT_MODE", 0,
	 "how the TLS certificate is obtained: letsencrypt (ACME), manual (<dir>/<hostname>.crt|.key) or selfsigned"},
	{"cert.dir", CFG_T_STRING, F(cert.dir), FS(cert.dir), 0, 0, NULL,
	 "/var/lib/derper/certs", "certdir", "DERP_CERT_DIR", 0,
	 "directory for certificates, keys and the ACME account"},
	{"cert.acme_directory", CFG_T_STRING, F(cert.acme_directory),
	 FS(cert.acme_directory), 0, 0, NULL,
	 "https://acme-v02.api.letsencrypt.org/directory", NULL, NULL, 0,
	 "ACME directory URL (letsencrypt mode)"},
	{"cert.acme_email", CFG_T_STRING, F(cert.acme_email),
	 FS(cert.acme_email), 0, 0, NULL, "", "acme-email", NULL, 0,
	 "contact e-mail for the ACME account (optional)"},
	{"cert.acme_ca_file", CFG_T_STRING, F(cert.acme_ca_file),
	 FS(cert.acme_ca_file), 0, 0, NULL, "", NULL, NULL, 0,
	 "PEM file of CAs trusted for the ACME server instead of the system store"},

	{"stun.enabled", CFG_T_BOOL, F(stun.enabled), 0, 0, 0, NULL, "true",
	 "stun", "DERP_STUN", 0, "answer STUN binding requests"},
	{"stun.port", CFG_T_INT, F(stun.port), 0, 1, 65535, NULL, "3478",
	 "stun-port", "DERP_STUN_PORT", 0, "UDP port of the STUN responder"},
	{"stun.tailscale_only", CFG_T_BOOL, F(stun.tailscale_only), 0, 0, 0,
	 NULL, "false", NULL, NULL, R,
	 "answer only Tailscale's requests (SOFTWARE \"tailnode\" and FINGERPRINT), exactly like derper"},

	{"stun.rate_limit_pps", CFG_T_INT, F(stun.rate_limit_pps), 0, 0,
	 100000000, NULL, "0", NULL, NULL, 0,
	 "answers per second per source address (token bucket per lcore), so the relay cannot be used to flood a victim; 0 = no limit"},
	{"stun.rate_limit_burst", CFG_T_INT, F(stun.rate_limit_burst), 0, 0,
	 100000000, NULL, "0", NULL, NULL, 0,
	 "burst of the per-source STUN limit; 0 = one second's worth"},

	{"verify.clients", CFG_T_BOOL, F(verify.clients), 0, 0, 0, NULL,
	 "false", "verify-clients", "DERP_VERIFY_CLIENTS", R,
	 "admit only node keys the local tailscaled knows (LocalAPI whois)"},
	{"verify.socket", CFG_T_STRING, F(verify.socket), FS(verify.socket), 0,
	 0, NULL, "/var/run/tailscale/tailscaled.sock", "socket", NULL, R,
	 "tailscaled LocalAPI unix socket used by verify.clients"},
	{"verify.url", CFG_T_STRING, F(verify.url), FS(verify.url), 0, 0, NULL,
	 "", "verify-client-url", "DERP_VERIFY_CLIENT_URL", R | CFG_F_SECRET,
	 "admission webhook URL (POST {\"NodePublic\",\"Source\"}, 200 {\"Allow\":true} admits); \"\" disables"},
	{"verify.url_fail_open", CFG_T_BOOL, F(verify.url_fail_open), 0, 0, 0,
	 NULL, "true", "verify-client-url-fail-open", NULL, R,
	 "admit when the webhook is unreachable (a non-200 answer always rejects)"},
	{"verify.refresh_ms", CFG_T_INT, F(verify.refresh_ms), 0, 100, 60000, NULL,
	 "1000", NULL, NULL, R,
	 "with a tailscaled older than v1.70 (no whois by node key): an unknown key waits for "
	 "a fresh peer list, fetched at most this often (and every 10 times this anyway)"},
	{"verify.timeout_s", CFG_T_INT, F(verify.timeout_s), 0, 1, 300, NULL,
	 "10", NULL, NULL, R,
	 "a client waits at most this long for its admission verdict, then it is closed (the webhook's own timeout is 5 s, as derper's)"},
	{"verify.cache_ttl_s", CFG_T_INT, F(verify.cache_ttl_s), 0, 0, 3600,
	 NULL, "30", NULL, NULL, R,
	 "an admitted node key (and source address) is not asked about again for this long; 0 = no cache"},
	{"verify.negative_ttl_s", CFG_T_INT, F(verify.negative_ttl_s), 0, 0,
	 3600, NULL, "5", NULL, NULL, R,
	 "a rejected node key is rejected without asking for this long, so a reconnect storm does not hammer tailscaled; 0 = no cache"},

	{"mesh.psk_file", CFG_T_STRING, F(mesh.psk_file), FS(mesh.psk_file), 0,
	 0, NULL, "", "mesh-psk-file", NULL, 0,
	 "file with the 64-hex-digit mesh pre-shared key (whitespace trimmed)"},
	{"mesh.peers", CFG_T_STRLIST, F(mesh.peers), 0, 0, 0, NULL, "",
	 "mesh-with", NULL, 0,
	 "regional mesh peers: \"host\" or \"host/dialhost\"; this server's own hostname is skipped"},
	{"mesh.ca_file", CFG_T_STRING, F(mesh.ca_file), FS(mesh.ca_file), 0, 0,
	 NULL, "", NULL, NULL, 0,
	 "PEM CA bundle that mesh peers' certificates must chain to; \"\" = the system's roots"},

	{"limits.accept_rate", CFG_T_DOUBLE, F(limits.accept_rate), 0, 0,
	 1000000, NULL, "0", "accept-connection-limit", NULL,
	 R | CFG_F_INF_ZERO,
	 "new TLS connections per second (token bucket); 0 = unlimited; excess connections are closed, the relay keeps running"},
	{"limits.accept_burst", CFG_T_INT, F(limits.accept_burst), 0, 0,
	 1000000000, NULL, "0", "accept-connection-burst", NULL,
	 R | CFG_F_INF_ZERO,
	 "burst of the accept token bucket; 0 = one second's worth of accept_rate"},
	{"limits.client_bytes_per_sec", CFG_T_INT,
	 F(limits.client_bytes_per_sec), 0, 0, INT64_C(1000000000000), NULL,
	 "0", NULL, NULL, R,
	 "per-client receive rate, enforced by backpressure (nothing dropped); 0 = unlimited; mesh peers exempt"},
	{"limits.client_burst_bytes", CFG_T_INT, F(limits.client_burst_bytes),
	 0, 0, INT64_C(1000000000000), NULL, "0", NULL, NULL, R,
	 "per-client burst in bytes (raised to at least 65568, as derper)"},
	{"limits.send_queue_depth", CFG_T_INT, F(limits.send_queue_depth), 0,
	 1, 4096, NULL, "32", NULL, NULL, R,
	 "packets queued per session and class (disco, data) before the oldest is dropped"},
	{"limits.send_queue_bytes", CFG_T_INT, F(limits.send_queue_bytes), 0,
	 65536, 1073741824, NULL, "524288", NULL, NULL, R,
	 "buffer bytes queued per session (2 KiB per mbuf) before the oldest packet is dropped;"
	 " all sessions together hold at most half of dataplane.mbufs, taken from the biggest"},
	{"limits.max_sessions", CFG_T_INT, F(limits.max_sessions), 0, 0,
	 10000000, NULL, "0", NULL, NULL, R,
	 "concurrent DERP sessions; 0 = unlimited; excess connections are closed"},
	{"limits.tcp_keepalive_s", CFG_T_INT, F(limits.tcp_keepalive_s), 0, 0,
	 86400, NULL, "600", "tcp-keepalive-time", NULL, R | CFG_F_DURATION,
	 "TCP keepalive idle time in seconds; 0 disables"},
	{"limits.tcp_user_timeout_s", CFG_T_INT, F(limits.tcp_user_timeout_s),
	 0, 0, 3600, NULL, "15", "tcp-user-timeout", NULL, R | CFG_F_DURATION,
	 "TCP_USER_TIMEOUT in seconds: unacknowledged data kills the connection; 0 disables"},
	{"limits.tcp_write_timeout_s", CFG_T_INT,
	 F(limits.tcp_write_timeout_s), 0, 0, 3600, NULL, "2",
	 "tcp-write-timeout", NULL, R | CFG_F_DURATION,
	 "a client that accepts no bytes for this many seconds is closed (mesh peers 30 s); 0 disables"},
	{"limits.handshake_timeout_s", CFG_T_INT,
	 F(limits.handshake_timeout_s), 0, 1, 300, NULL, "10", NULL, NULL, R,
	 "deadline for TLS, HTTP upgrade and the DERP ClientInfo"},
	{"limits.http_head_timeout_s", CFG_T_INT,
	 F(limits.http_head_timeout_s), 0, 1, 300, NULL, "10", NULL, NULL, R,
	 "deadline for a complete HTTP request head (slow clients are cut off)"},
	{"limits.http_head_max_bytes", CFG_T_INT,
	 F(limits.http_head_max_bytes), 0, 1024, 1048576, NULL, "16384", NULL,
	 NULL, R, "largest HTTP request head accepted (431 beyond)"},

	{"shutdown.reconnect_in_ms", CFG_T_INT, F(shutdown.reconnect_in_ms), 0,
	 0, 600000, NULL, "1000", NULL, NULL, R,
	 "on SIGTERM every client gets a Restarting frame: reconnect after this many ms"},
	{"shutdown.try_for_ms", CFG_T_INT, F(shutdown.try_for_ms), 0, 0,
	 3600000, NULL, "30000", NULL, NULL, R,
	 "...and keep trying for this many ms (the second field of Restarting)"},
	{"shutdown.drain_timeout_s", CFG_T_INT, F(shutdown.drain_timeout_s), 0,
	 1, 3600, NULL, "5", NULL, NULL, R,
	 "on SIGTERM, how long queued frames may take to flush before sessions are closed"},
	{"metrics.listen", CFG_T_STRING, F(metrics.listen), FS(metrics.listen),
	 0, 0, NULL, "127.0.0.1:9375", NULL, NULL, 0,
	 "metrics and health listener (never the public port); \"\" disables"},

	{"log.level", CFG_T_ENUM, F(log.level), 0, 0, 0, log_levels, "info",
	 NULL, NULL, R, "error, warn, info or debug"},

	{"dataplane.eal", CFG_T_STRLIST, F(dataplane.eal), 0, 0, 0, NULL, "",
	 NULL, NULL, 0,
	 "extra EAL arguments; they win over every default the relay adds"},
	{"dataplane.lcores", CFG_T_STRING, F(dataplane.lcores),
	 FS(dataplane.lcores), 0, 0, NULL, "1", NULL, NULL, 0,
	 "CPUs of the dataplane lcores (\"1\", \"2-3\", \"2,4\"); TLS threads use the others with idle = poll, every CPU with adaptive"},
	{"dataplane.tls_threads", CFG_T_INT, F(dataplane.tls_threads), 0, 1,
	 64, NULL, "1", NULL, NULL, 0,
	 "TLS threads (SO_REUSEPORT listeners)"},
	{"dataplane.idle", CFG_T_ENUM, F(dataplane.idle), 0, 0, 0, idle_modes,
	 "adaptive", NULL, NULL, 0,
	 "poll: spin on dedicated cores; adaptive: back off when idle so cores can be shared (with one TLS thread and one lcore, that thread runs the forwarder itself and the lcore only polls the ports)"},
	{"dataplane.spin_us", CFG_T_INT, F(dataplane.spin_us), 0, 0, 100000,
	 NULL, "50", NULL, NULL, 0,
	 "adaptive: microseconds an lcore keeps polling after its last packet before it naps (less: less CPU at moderate load, more first-packet latency)"},
	{"dataplane.nap_us", CFG_T_INT, F(dataplane.nap_us), 0, 10, 100000,
	 NULL, "100", NULL, NULL, 0,
	 "adaptive: longest nap of an lcore whose ports cannot wake it (all but shared net_af_packet; the added latency after a quiet period is up to this)"},
	{"dataplane.hugepages", CFG_T_ENUM, F(dataplane.hugepages), 0, 0, 0,
	 huge_modes, "auto", NULL, NULL, 0,
	 "auto: hugepages when mounted, else --no-huge; require: refuse to start without; never: always --no-huge"},
	{"dataplane.memory_mb", CFG_T_INT, F(dataplane.memory_mb), 0, 64,
	 1048576, NULL, "256", NULL, NULL, 0,
	 "EAL memory in MiB when running without hugepages (-m)"},
	{"dataplane.mbufs", CFG_T_INT, F(dataplane.mbufs), 0, 1023, 16777215,
	 NULL, "16383", NULL, NULL, 0,
	 "mbufs for DERP frames (best as 2^n - 1); the ports get a pool of their own, sized from their rings"},
	{"dataplane.ring_size", CFG_T_INT, F(dataplane.ring_size), 0, 64,
	 1048576, NULL, "4096", NULL, NULL, 0,
	 "entries of each thread-to-thread ring (a power of two)"},
	{"dataplane.table_size", CFG_T_INT, F(dataplane.table_size), 0, 1024,
	 16777216, NULL, "131072", NULL, NULL, 0,
	 "client keys the session table holds; a connection beyond it is closed"},
	{"dataplane.rx_desc", CFG_T_INT, F(dataplane.rx_desc), 0, 64, 32768,
	 NULL, "1024", NULL, NULL, 0, "receive descriptors per port queue"},
	{"dataplane.tx_desc", CFG_T_INT, F(dataplane.tx_desc), 0, 64, 32768,
	 NULL, "1024", NULL, NULL, 0, "transmit descriptors per port queue"},
	{"dataplane.ports", CFG_T_PORTS, F(dataplane.ports), 0, 0,
	 CFG_PORTS_MAX, NULL, "", NULL, NULL, 0,
	 "DPDK ports: ( { device = \"...\"; mode = \"shared\"; address = \"198.18.0.1/24\"; }, ... ); empty = no NIC"},
	{"dataplane.ports.device", CFG_T_STRING, P(device), PS(device), 0, 0,
	 NULL, "", NULL, NULL, CFG_F_PORT,
	 "DPDK device: PCI address (0000:3b:02.1) or vdev (net_af_xdp0,iface=eth1)"},
	{"dataplane.ports.mode", CFG_T_ENUM, P(mode), 0, 0, 0, port_modes,
	 "shared", NULL, NULL, CFG_F_PORT,
	 "shared: kernel keeps TCP, only STUN reaches DPDK; exclusive: DPDK owns the port, kernel traffic via the exception path"},
	{"dataplane.ports.address", CFG_T_STRING, P(address), PS(address), 0,
	 0, NULL, "", NULL, NULL, CFG_F_PORT,
	 "the port's IP address with prefix length (\"198.18.0.1/24\")"},
	{"dataplane.ports.exception", CFG_T_STRING, P(exception), PS(exception),
	 0, 0, NULL, "net_tap", NULL, NULL, CFG_F_PORT,
	 "exclusive mode: PMD of the kernel exception path (net_tap, or net_virtio_user,path=/dev/vhost-net)"},
	{"dataplane.ports.exception_iface", CFG_T_STRING, P(exception_iface),
	 PS(exception_iface), 0, 0, NULL, "", NULL, NULL, CFG_F_PORT,
	 "exclusive mode: name of the kernel interface that carries the address (default derpN)"},
	{"dataplane.ports.gateway", CFG_T_STRING, P(gateway), PS(gateway), 0, 0,
	 NULL, "", NULL, NULL, CFG_F_PORT,
	 "exclusive mode: router on the port's network; traffic from the port's address is routed back through it (a policy route), whatever the host's default route is"},
};

#undef R

static_assert(sizeof(keys) / sizeof(keys[0]) == CFG_NB_KEYS,
	      "CFG_NB_KEYS must match the key table");

const struct cfg_key *
cfg_schema_keys(void)
{
	return keys;
}

unsigned int
cfg_schema_nb_keys(void)
{
	return CFG_NB_KEYS;
}

const struct cfg_key *
cfg_schema_key(unsigned int idx)
{
	return idx < CFG_NB_KEYS ? &keys[idx] : NULL;
}

int
cfg_schema_find(const char *name)
{
	for (unsigned int i = 0; i < CFG_NB_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Levenshtein distance, capped: we only care about small distances. */
static unsigned int
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned int row[CFG_ITEM_LEN + 1];

	if (la > CFG_ITEM_LEN || lb > CFG_ITEM_LEN)
		return UINT32_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned int)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned int diag = row[0];

		row[0] = (unsigned int)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned int up = row[j];
			unsigned int best = diag + (a[i - 1] != b[j - 1]);

			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *
cfg_schema_suggest(const char *name)
{
	const char *best = NULL;
	unsigned int best_d = UINT32_MAX;
	unsigned int limit = (unsigned int)strlen(name) / 3;

	if (limit > 3)
		limit = 3;
	if (limit < 1)
		limit = 1;
	for (unsigned int i = 0; i < CFG_NB_KEYS; i++) {
		unsigned int d = edit_distance(name, keys[i].name);
		const char *dot = strchr(keys[i].name, '.');

		if (d < best_d) {
			best_d = d;
			best = keys[i].name;
		}
		/* the group itself: "limts" -> "limits" */
		if (dot && !(keys[i].flags & CFG_F_PORT)) {
			static char group[64];
			char g[64];

			snprintf(g, sizeof(g), "%.*s", (int)(dot - keys[i].name),
				 keys[i].name);
			d = edit_distance(name, g);
			if (d < best_d) {
				best_d = d;
				snprintf(group, sizeof(group), "%s", g);
				best = group;
			}
		}
	}
	return best_d <= limit ? best : NULL;
}

void *
cfg_schema_field(const struct cfg_key *key, struct derper_config *cfg,
		 struct cfg_port *port)
{
	if (key->flags & CFG_F_PORT)
		return port ? (char *)port + key->offset : NULL;
	return (char *)cfg + key->offset;
}

int
cfg_value_check_int(const struct cfg_key *key, int64_t v, char *err,
		    size_t errlen)
{
	if (v < key->min || v > key->max) {
		snprintf(err, errlen, "%" PRId64 " is out of range %" PRId64
			 "..%" PRId64, v, key->min, key->max);
		return -EINVAL;
	}
	return 0;
}

int
cfg_value_check_double(const struct cfg_key *key, double v, char *err,
		       size_t errlen)
{
	if (!isfinite(v) || v < (double)key->min || v > (double)key->max) {
		snprintf(err, errlen, "%g is out of range %" PRId64 "..%" PRId64,
			 v, key->min, key->max);
		return -EINVAL;
	}
	return 0;
}

int
cfg_value_set_string(const struct cfg_key *key, const char *s, void *field,
		     char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n >= key->size) {
		snprintf(err, errlen, "value is %zu bytes long, the limit is %zu",
			 n, key->size - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errlen,
				 "control character at offset %zu", i);
			return -EINVAL;
		}
	}
	memcpy(field, s, n + 1);
	return 0;
}

int
cfg_value_set_enum(const struct cfg_key *key, const char *s, void *field,
		   char *err, size_t errlen)
{
	size_t off = 0;

	for (int64_t i = 0; key->choices[i]; i++) {
		if (strcmp(s, key->choices[i]) == 0) {
			*(int64_t *)field = i;
			return 0;
		}
	}
	off += (size_t)snprintf(err, errlen, "\"%.40s\" is not one of", s);
	for (int i = 0; key->choices[i] && off < errlen; i++)
		off += (size_t)snprintf(err + off, errlen - off, "%s %s",
					i ? "," : "", key->choices[i]);
	return -EINVAL;
}

int
cfg_value_list_append(const struct cfg_key *key, const char *s, void *field,
		      char *err, size_t errlen)
{
	struct cfg_strlist *l = field;
	size_t n = strlen(s);

	(void)key;
	if (l->n >= CFG_LIST_MAX) {
		snprintf(err, errlen, "more than %d elements", CFG_LIST_MAX);
		return -EINVAL;
	}
	if (n == 0 || n >= CFG_ITEM_LEN) {
		snprintf(err, errlen, "element %u is %s", l->n + 1,
			 n ? "longer than 255 bytes" : "empty");
		return -EINVAL;
	}
	memcpy(l->v[l->n++], s, n + 1);
	return 0;
}

/* Go's strconv.ParseBool. */
static int
parse_go_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true",
					  "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false",
					 "False"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int
parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0' || *s == ' ' || *s == '\t')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Go's math.Inf and math.MaxInt spellings used by derper's flag defaults. */
static bool
is_go_unlimited(const char *s)
{
	return strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0 ||
	       strcmp(s, "inf") == 0 || strcmp(s, "+inf") == 0 ||
	       strcmp(s, "9223372036854775807") == 0;
}

int
cfg_parse_go_duration(const char *s, int64_t *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3},
		     {"\xce\xbcs", 1e3}, {"ms", 1e6}, {"s", 1e9},
		     {"m", 60e9}, {"h", 3600e9}};
	double total = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (*s == '\0')
		return -EINVAL;
	while (*s) {
		char *end;
		double v;
		size_t best = 0, best_len = 0;

		if (!((*s >= '0' && *s <= '9') || *s == '.'))
			return -EINVAL;
		v = strtod(s, &end);
		if (end == s)
			return -EINVAL;
		s = end;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);

			if (strncmp(s, units[i].unit, l) == 0 && l > best_len) {
				best = i;
				best_len = l;
			}
		}
		if (best_len == 0)
			return -EINVAL;
		s += best_len;
		total += v * units[best].ns;
		if (total > 9.2e18)
			return -ERANGE;
	}
	*ns = (int64_t)(neg ? -total : total);
	return 0;
}

static int
parse_list(const struct cfg_key *key, const char *text, void *field,
	   char *err, size_t errlen)
{
	struct cfg_strlist *l = field;
	const char *p = text;

	l->n = 0;
	if (*text == '\0')
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char item[CFG_ITEM_LEN];

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n >= sizeof(item)) {
			snprintf(err, errlen, "element %u is longer than %d bytes",
				 l->n + 1, CFG_ITEM_LEN - 1);
			return -EINVAL;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (cfg_value_list_append(key, item, field, err, errlen))
			return -EINVAL;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int
cfg_value_parse(const struct cfg_key *key, const char *text, bool duration,
		void *field, char *err, size_t errlen)
{
	int64_t iv;
	double dv;
	char *end;

	switch (key->type) {
	case CFG_T_BOOL:
		if (parse_go_bool(text, field)) {
			snprintf(err, errlen,
				 "\"%.40s\" is not a boolean (true or false)",
				 text);
			return -EINVAL;
		}
		return 0;
	case CFG_T_INT:
		if ((key->flags & CFG_F_INF_ZERO) && is_go_unlimited(text)) {
			iv = 0;
		} else if (duration && (key->flags & CFG_F_DURATION)) {
			if (cfg_parse_go_duration(text, &iv)) {
				snprintf(err, errlen,
					 "\"%.40s\" is not a duration (e.g. 15s, 10m)",
					 text);
				return -EINVAL;
			}
			if (iv % 1000000000) {
				snprintf(err, errlen,
					 "%.40s is not a whole number of seconds",
					 text);
				return -EINVAL;
			}
			iv /= 1000000000;
		} else if (parse_int(text, &iv)) {
			snprintf(err, errlen, "\"%.40s\" is not an integer",
				 text);
			return -EINVAL;
		}
		if (cfg_value_check_int(key, iv, err, errlen))
			return -EINVAL;
		*(int64_t *)field = iv;
		return 0;
	case CFG_T_DOUBLE:
		if ((key->flags & CFG_F_INF_ZERO) && is_go_unlimited(text)) {
			dv = 0;
		} else {
			errno = 0;
			dv = strtod(text, &end);
			if (errno || end == text || *end != '\0') {
				snprintf(err, errlen, "\"%.40s\" is not a number",
					 text);
				return -EINVAL;
			}
		}
		if (cfg_value_check_double(key, dv, err, errlen))
			return -EINVAL;
		*(double *)field = dv;
		return 0;
	case CFG_T_STRING:
		return cfg_value_set_string(key, text, field, err, errlen);
	case CFG_T_ENUM:
		return cfg_value_set_enum(key, text, field, err, errlen);
	case CFG_T_STRLIST:
		return parse_list(key, text, field, err, errlen);
	case CFG_T_PORTS:
		snprintf(err, errlen, "ports can only be set in derper.conf");
		return -EINVAL;
	}
	snprintf(err, errlen, "unknown key type");
	return -EINVAL;
}

/* Append s to buf as a libconfig string literal. */
static void
format_string(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (; *s && o + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			buf[o++] = '\\';
		buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/*
 * "https://user:pass@host/p?token=x" -> "https://<redacted>@host/p?<redacted>":
 * webhooks commonly carry credentials in userinfo or the query.
 */
static void
redact_url(const char *url, char *out, size_t len)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *at = strchr(host, '@');
	const char *slash = strchr(host, '/');
	const char *q = strchr(host, '?');
	size_t o = 0;

	if (at && slash && at > slash)
		at = NULL;
	if (at && q && at > q)
		at = NULL;
	o += (size_t)snprintf(out + o, len - o, "%.*s", (int)(host - url), url);
	if (at) {
		o += (size_t)snprintf(out + o, len - o, "<redacted>");
		host = at;
	}
	if (o < len)
		snprintf(out + o, len - o, "%.*s%s", q ? (int)(q - host) : (int)strlen(host),
			 host, q ? "?<redacted>" : "");
}

const char *
cfg_value_format(const struct cfg_key *key, const void *field, bool redact,
		 char *buf, size_t len)
{
	char tmp[CFG_URL_LEN + 32];
	size_t o;

	switch (key->type) {
	case CFG_T_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false");
		break;
	case CFG_T_INT: {
		int64_t v = *(const int64_t *)field;

		/* libconfig 1.5 needs the L suffix beyond 32 bits */
		snprintf(buf, len, "%" PRId64 "%s", v,
			 v > INT32_MAX || v < INT32_MIN ? "L" : "");
		break;
	}
	case CFG_T_DOUBLE:
		snprintf(buf, len, "%.17g", *(const double *)field);
		if (!strpbrk(buf, ".eEn"))
			strncat(buf, ".0", len - strlen(buf) - 1);
		break;
	case CFG_T_STRING:
		if (redact && (key->flags & CFG_F_SECRET)) {
			redact_url(field, tmp, sizeof(tmp));
			format_string(tmp, buf, len);
		} else {
			format_string(field, buf, len);
		}
		break;
	case CFG_T_ENUM:
		format_string(key->choices[*(const int64_t *)field], buf, len);
		break;
	case CFG_T_STRLIST: {
		const struct cfg_strlist *l = field;

		o = (size_t)snprintf(buf, len, "[");
		for (unsigned int i = 0; i < l->n && o < len; i++) {
			format_string(l->v[i], tmp, sizeof(tmp));
			o += (size_t)snprintf(buf + o, len - o, "%s %s",
					      i ? "," : "", tmp);
		}
		if (o < len)
			snprintf(buf + o, len - o, "%s]", l->n ? " " : "");
		break;
	}
	case CFG_T_PORTS:
		snprintf(buf, len, "()");
		break;
	}
	return buf;
}
