/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Address syntax shared by the config checks and the code that binds:
 * "host:port" as Go's net.SplitHostPort takes it, CIDR prefixes, DNS
 * names and CPU lists. Pure functions, no resolver: hosts are IP literals,
 * "localhost" or empty (every interface).
 */
#ifndef DERPER_CONFIG_ADDR_H
#define DERPER_CONFIG_ADDR_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Split ":443", "1.2.3.4:443", "[::1]:443" or ":https" into host (without
 * brackets, possibly empty) and port. Returns 0 or -EINVAL with a reason
 * in err.
 */
int cfg_hostport_split(const char *s, char *host, size_t hostlen,
		       uint16_t *port, char *err, size_t errlen);

/*
 * Turn a host from cfg_hostport_split() and a port into a socket address.
 * "" gives the IPv6 wildcard (dual-stack listeners); "localhost" gives
 * 127.0.0.1. Returns 0 or -EINVAL.
 */
int cfg_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
		 socklen_t *len);

/*
 * One mesh.peers entry, derper's -mesh-with syntax: "host", "host:port",
 * "host/dialhost" or "host/dialhost:port". `host` is the TLS name (SNI,
 * certificate check); `http_host` the Host header (host, with the port
 * when one was given); `dial` what to connect to; the port is the
 * dialhost's when it has one, else the host's, else 443.
 */
struct cfg_mesh_peer {
	char host[256];
	char http_host[264];
	char dial[256];
	uint16_t port;
	bool has_dial;
};

/* Does derper skip this entry on a server called `hostname`? Exactly when
 * the part before any '/' is the hostname (so "derp1:443" is dialled by
 * derp1, which then finds its own key and stops). Pure. */
bool cfg_mesh_peer_is_own_name(const char *entry, const char *hostname);

/* Returns 0 or -EINVAL with the reason in err. Pure. */
int cfg_mesh_peer_parse(const char *entry, struct cfg_mesh_peer *out,
			char *err, size_t errlen);

/* "198.18.0.1/24" or "2001:db8::1/64": family, address bytes, prefix. */
struct cfg_cidr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned int prefix;
};

int cfg_cidr_parse(const char *s, struct cfg_cidr *out, char *err,
		   size_t errlen);

/* IPv4 or IPv6 literal (no brackets, no zone)? */
bool cfg_is_ip_literal(const char *host);

/* RFC 1123 DNS name: labels of [A-Za-z0-9-], 1..63 long, 253 in all. */
bool cfg_is_dns_name(const char *host);

/* "1", "2-3", "1,4-5" -> set. Returns 0 or -EINVAL with a reason. */
int cfg_cpulist_parse(const char *s, cpu_set_t *set, char *err,
		      size_t errlen);

/* derper's file name for a hostname: characters outside [A-Za-z0-9.-]
 * removed (so IPv6 colons disappear). */
void cfg_cert_basename(const char *hostname, char *out, size_t len);

#endif /* DERPER_CONFIG_ADDR_H */
