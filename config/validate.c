/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stddef.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/addr.h"
#include "config/schema.h"
#include "config/validate.h"

/* Report an error at the origin of `key` (which must be in the table). */
static void __attribute__((format(printf, 4, 5)))
fail(struct cfg_errors *errs, const struct derper_config *cfg,
     const char *key, const char *fmt, ...)
{
	int idx = cfg_schema_find(key);
	char text[CFG_ERROR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cfg_error_add(errs, &cfg->origin[idx < 0 ? 0 : idx], cfg->source_path,
		      key, "%s", text);
}

static void __attribute__((format(printf, 5, 6)))
fail_port(struct cfg_errors *errs, const struct derper_config *cfg,
	  unsigned int i, const char *key, const char *fmt, ...)
{
	char text[CFG_ERROR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cfg_error_add(errs, &cfg->dataplane.port_origin[i], cfg->source_path,
		      key, "port %u: %s", i, text);
}

static bool
is_default(const struct derper_config *cfg, const char *key)
{
	return cfg->origin[cfg_schema_find(key)].source == CFG_SRC_DEFAULT;
}

static bool
is_http_url(const char *s)
{
	return (strncmp(s, "https://", 8) == 0 && s[8]) ||
	       (strncmp(s, "http://", 7) == 0 && s[7]);
}

bool
cfg_serves_tls(const struct derper_config *cfg)
{
	char host[CFG_ADDR_LEN], err[128];
	uint16_t port = 0;

	if (cfg->cert.mode == CFG_CERT_MANUAL ||
	    cfg->cert.mode == CFG_CERT_SELFSIGNED)
		return true;
	if (cfg_hostport_split(cfg->listen, host, sizeof(host), &port, err,
			       sizeof(err)))
		return false;
	return port == 443;
}

/* A listen-style address: "" host, an IP literal or localhost. */
static int
check_hostport(struct cfg_errors *errs, const struct derper_config *cfg,
	       const char *key, const char *value, uint16_t *port)
{
	char host[CFG_ADDR_LEN], err[CFG_ERROR_LEN];

	if (cfg_hostport_split(value, host, sizeof(host), port, err,
			       sizeof(err))) {
		fail(errs, cfg, key, "%s", err);
		return -EINVAL;
	}
	if (*host && strcmp(host, "localhost") != 0 &&
	    !cfg_is_ip_literal(host)) {
		fail(errs, cfg, key,
		     "\"%s\": the host must be an IP address, localhost or empty (all interfaces)",
		     host);
		return -EINVAL;
	}
	return 0;
}

static void
check_hostname_and_cert(const struct derper_config *cfg,
			struct cfg_errors *errs)
{
	const char *h = cfg->hostname;
	bool tls = cfg_serves_tls(cfg);

	if (*h && !cfg_is_dns_name(h) && !cfg_is_ip_literal(h))
		fail(errs, cfg, "hostname",
		     "\"%s\" is neither a DNS name nor an IP address", h);
	if (!tls)
		return;
	if (cfg->cert.mode == CFG_CERT_LETSENCRYPT && !cfg->dev) {
		if (!*h)
			fail(errs, cfg, "hostname",
			     "required with cert.mode = \"letsencrypt\" (the name the certificate is issued for)");
		else if (cfg_is_ip_literal(h))
			fail(errs, cfg, "hostname",
			     "%s is an IP address; Let's Encrypt needs a DNS name (use cert.mode = \"manual\" or \"selfsigned\")",
			     h);
		else if (!strchr(h, '.'))
			fail(errs, cfg, "hostname",
			     "\"%s\" is not a public DNS name; Let's Encrypt cannot issue for it",
			     h);
		if (!is_http_url(cfg->cert.acme_directory))
			fail(errs, cfg, "cert.acme_directory",
			     "\"%s\" is not an http(s) URL",
			     cfg->cert.acme_directory);
	}
	if (cfg->cert.mode == CFG_CERT_MANUAL && !*h)
		fail(errs, cfg, "hostname",
		     "required with cert.mode = \"manual\" (names the files <cert.dir>/<hostname>.crt and .key)");
	if (!*cfg->cert.dir)
		fail(errs, cfg, "cert.dir",
		     "required when TLS is served");
	if (*cfg->cert.acme_email && !strchr(cfg->cert.acme_email, '@'))
		fail(errs, cfg, "cert.acme_email",
		     "\"%s\" is not an e-mail address", cfg->cert.acme_email);
}

static void
check_mesh_verify(const struct derper_config *cfg, struct cfg_errors *errs)
{
	if (cfg->mesh.peers.n && !*cfg->mesh.psk_file)
		fail(errs, cfg, "mesh.peers",
		     "meshing needs a shared key: set mesh.psk_file");
	for (unsigned int i = 0; i < cfg->mesh.peers.n; i++) {
		struct cfg_mesh_peer mp;
		char why[160];

		if (cfg_mesh_peer_parse(cfg->mesh.peers.v[i], &mp, why, sizeof(why)))
			fail(errs, cfg, "mesh.peers",
			     "\"%s\" is not \"host\", \"host:port\" or \"host/dialhost\": %s",
			     cfg->mesh.peers.v[i], why);
	}
	if (*cfg->verify.url && !is_http_url(cfg->verify.url))
		fail(errs, cfg, "verify.url",
		     "not an http(s) URL");
	if (cfg->verify.clients && !*cfg->verify.socket)
		fail(errs, cfg, "verify.socket",
		     "required with verify.clients = true");
}

static void
check_listeners(const struct derper_config *cfg, struct cfg_errors *errs)
{
	uint16_t lport = 0, mport = 0;

	check_hostport(errs, cfg, "listen", cfg->listen, &lport);
	if (cfg->http_port == 0)
		fail(errs, cfg, "http_port",
		     "0 is not a port; use -1 to disable the HTTP listener");
	if (!*cfg->metrics.listen)
		return;
	if (check_hostport(errs, cfg, "metrics.listen", cfg->metrics.listen,
			   &mport))
		return;
	if (mport == lport)
		fail(errs, cfg, "metrics.listen",
		     "port %u is the DERP port; metrics never share the public listener",
		     mport);
	else if (cfg_serves_tls(cfg) && mport == cfg->http_port)
		fail(errs, cfg, "metrics.listen",
		     "port %u is the HTTP port (http_port)", mport);
}

static void
check_home(const struct derper_config *cfg, struct cfg_errors *errs)
{
	const char *h = cfg->home;

	if (*h && strcmp(h, "blank") != 0 && !is_http_url(h))
		fail(errs, cfg, "home",
		     "\"%s\": use \"\" (default page), \"blank\" or an http(s):// URL",
		     h);
	if (!*cfg->key_file && !cfg->dev)
		fail(errs, cfg, "key_file",
		     "required: it holds the server's identity");
}

static bool
eal_has(const struct derper_config *cfg, const char *const *opts)
{
	for (unsigned int i = 0; i < cfg->dataplane.eal.n; i++) {
		const char *a = cfg->dataplane.eal.v[i];

		for (const char *const *o = opts; *o; o++) {
			size_t n = strlen(*o);

			/* "-l", "-l2", "--lcores", "--lcores=..." */
			if (strncmp(a, *o, n) == 0 &&
			    (a[n] == '\0' || a[n] == '=' ||
			     (a[1] != '-' && n == 2)))
				return true;
		}
	}
	return false;
}

static const char *const eal_lcore_opts[] = {"-l", "-c", "--lcores", NULL};

static void
check_dataplane(const struct derper_config *cfg, struct cfg_errors *errs)
{
	static const char *const no_huge[] = {"--no-huge", NULL};
	static const char *const in_mem[] = {"--in-memory", NULL};
	char err[CFG_ERROR_LEN];
	cpu_set_t set;
	int64_t rs = cfg->dataplane.ring_size;

	if (cfg_cpulist_parse(cfg->dataplane.lcores, &set, err, sizeof(err)))
		fail(errs, cfg, "dataplane.lcores", "%s", err);
	if (eal_has(cfg, eal_lcore_opts) && !is_default(cfg, "dataplane.lcores"))
		fail(errs, cfg, "dataplane.lcores",
		     "dataplane.eal also sets the lcores; set them in one place");
	if (eal_has(cfg, no_huge) && eal_has(cfg, in_mem))
		fail(errs, cfg, "dataplane.eal",
		     "--no-huge and --in-memory cannot be combined (DPDK 22.11); use --no-huge --no-shconf");
	if (eal_has(cfg, no_huge) && cfg->dataplane.hugepages == CFG_HUGE_REQUIRE)
		fail(errs, cfg, "dataplane.hugepages",
		     "\"require\" contradicts --no-huge in dataplane.eal");
	if (rs & (rs - 1))
		fail(errs, cfg, "dataplane.ring_size",
		     "%lld is not a power of two", (long long)rs);

	for (unsigned int i = 0; i < cfg->dataplane.nb_ports; i++) {
		const struct cfg_port *p = &cfg->dataplane.ports[i];
		struct cfg_cidr cidr;

		if (!*p->device)
			fail_port(errs, cfg, i, "dataplane.ports.device",
				  "empty device");
		for (unsigned int j = 0; j < i; j++)
			if (strcmp(p->device, cfg->dataplane.ports[j].device) == 0)
				fail_port(errs, cfg, i, "dataplane.ports.device",
					  "\"%s\" is also port %u", p->device, j);
		if (*p->address &&
		    cfg_cidr_parse(p->address, &cidr, err, sizeof(err)))
			fail_port(errs, cfg, i, "dataplane.ports.address", "%s",
				  err);
		if (strncmp(p->device, "net_af_xdp", 10) == 0 && p->mode == CFG_PORT_SHARED &&
		    !strstr(p->device, "xdp_prog=") && cfg->stun.port != 3478)
			fail_port(errs, cfg, i, "dataplane.ports.device",
				  "the relay's XDP program sends UDP port 3478 to the dataplane, not stun.port %lld; "
				  "give your own with xdp_prog=",
				  (long long)cfg->stun.port);
		if (!*p->address && p->mode == CFG_PORT_EXCLUSIVE)
			fail_port(errs, cfg, i, "dataplane.ports.address",
				  "exclusive mode needs the address the kernel interface carries");
		if (*p->gateway) {
			struct cfg_cidr gw;
			char g[CFG_ADDR_LEN + 8];

			snprintf(g, sizeof(g), "%s/%d", p->gateway,
				 strchr(p->gateway, ':') ? 128 : 32);
			if (p->mode != CFG_PORT_EXCLUSIVE)
				fail_port(errs, cfg, i, "dataplane.ports.gateway",
					  "only exclusive ports have a kernel interface to route through");
			else if (cfg_cidr_parse(g, &gw, err, sizeof(err)) || !*p->address ||
				 cfg_cidr_parse(p->address, &cidr, err, sizeof(err)) ||
				 gw.family != cidr.family)
				fail_port(errs, cfg, i, "dataplane.ports.gateway",
					  "\"%s\" is not an IP address of the address's family",
					  p->gateway);
		}
	}
}

int
cfg_validate(const struct derper_config *cfg, struct cfg_errors *errs)
{
	unsigned int before = errs->n + errs->dropped;

	check_listeners(cfg, errs);
	check_home(cfg, errs);
	check_hostname_and_cert(cfg, errs);
	check_mesh_verify(cfg, errs);
	check_dataplane(cfg, errs);
	return errs->n + errs->dropped == before ? 0 : -EINVAL;
}

static void
check_cpus(const struct derper_config *cfg, struct cfg_errors *errs)
{
	char err[CFG_ERROR_LEN];
	cpu_set_t want, have;
	int spare = 0;

	if (eal_has(cfg, eal_lcore_opts))
		return;	/* the operator placed the lcores themselves */
	if (cfg_cpulist_parse(cfg->dataplane.lcores, &want, err, sizeof(err)))
		return;	/* reported by cfg_validate */
	if (sched_getaffinity(0, sizeof(have), &have))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &want) && !CPU_ISSET(c, &have)) {
			fail(errs, cfg, "dataplane.lcores",
			     "CPU %d is not available to this process (%d CPUs usable)",
			     c, CPU_COUNT(&have));
			return;
		}
		if (CPU_ISSET(c, &have) && !CPU_ISSET(c, &want))
			spare++;
	}
	if (spare == 0)
		fail(errs, cfg, "dataplane.lcores",
		     "\"%s\" takes every usable CPU; the control and TLS threads need one more",
		     cfg->dataplane.lcores);
}

static void
check_manual_cert(const struct derper_config *cfg, struct cfg_errors *errs)
{
	static const char *const exts[] = {".crt", ".key"};
	char base[CFG_HOST_LEN], path[CFG_PATH_LEN + CFG_HOST_LEN + 8];

	/* derper creates a self-signed certificate for an IP hostname. */
	if (cfg->cert.mode != CFG_CERT_MANUAL || !*cfg->hostname ||
	    cfg_is_ip_literal(cfg->hostname))
		return;
	cfg_cert_basename(cfg->hostname, base, sizeof(base));
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s%s", cfg->cert.dir, base,
			 exts[i]);
		if (access(path, R_OK) != 0)
			fail(errs, cfg, "cert.dir",
			     "cert.mode \"manual\" needs %s: %s", path,
			     strerror(errno));
	}
}

/* "iface=eth1" in a vdev's arguments names a kernel interface that must
 * exist (net_af_packet, net_af_xdp, net_pcap's iface=). */
static void
check_ifaces(const struct derper_config *cfg, struct cfg_errors *errs)
{
	for (unsigned int i = 0; i < cfg->dataplane.nb_ports; i++) {
		const char *dev = cfg->dataplane.ports[i].device;
		const char *p = strstr(dev, ",iface=");
		char name[64];

		if (!p)
			continue;
		p += 7;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(p, ","), p);
		if (if_nametoindex(name) == 0)
			fail_port(errs, cfg, i, "dataplane.ports.device",
				  "iface %s not found in this network namespace", name);
	}
}

/* Files named by the config that must be readable at startup. */
static void
check_files(const struct derper_config *cfg, struct cfg_errors *errs)
{
	static const struct {
		const char *key;
		size_t off;
	} files[] = {
		{"mesh.psk_file", offsetof(struct derper_config, mesh.psk_file)},
		{"mesh.ca_file", offsetof(struct derper_config, mesh.ca_file)},
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *path = (const char *)cfg + files[i].off;

		if (*path && access(path, R_OK) != 0)
			fail(errs, cfg, files[i].key, "cannot read %s: %s", path,
			     strerror(errno));
	}
}

int
cfg_validate_host(const struct derper_config *cfg, struct cfg_errors *errs)
{
	unsigned int before = errs->n + errs->dropped;

	check_cpus(cfg, errs);
	check_manual_cert(cfg, errs);
	check_ifaces(cfg, errs);
	check_files(cfg, errs);
	return errs->n + errs->dropped == before ? 0 : -EINVAL;
}
