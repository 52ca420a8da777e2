/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/addr.h"

static int
parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	/* Go's net.LookupPort knows service names; derper users write these. */
	if (strcmp(s, "https") == 0) {
		*port = 443;
		return 0;
	}
	if (strcmp(s, "http") == 0) {
		*port = 80;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int
cfg_hostport_split(const char *s, char *host, size_t hostlen, uint16_t *port,
		   char *err, size_t errlen)
{
	const char *colon, *hs, *he;

	if (s[0] == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':') {
			snprintf(err, errlen, "\"%.60s\": missing ']:port'", s);
			return -EINVAL;
		}
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "\"%.60s\" has no port (\":443\", \"ip:port\", \"[ip6]:port\")", s);
			return -EINVAL;
		}
		hs = s;
		he = colon;
		if (memchr(s, ':', (size_t)(colon - s))) {
			snprintf(err, errlen, "\"%.60s\": IPv6 addresses need brackets, as in \"[::1]:443\"", s);
			return -EINVAL;
		}
	}
	if ((size_t)(he - hs) >= hostlen) {
		snprintf(err, errlen, "\"%.60s\": host too long", s);
		return -EINVAL;
	}
	if (parse_port(colon + 1, port)) {
		snprintf(err, errlen, "\"%.60s\": bad port \"%.20s\"", s,
			 colon + 1);
		return -EINVAL;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	return 0;
}

/* "name", "name:port", "[v6]:port" into name and port (0 when absent). */
static int
mesh_part(const char *s, char *host, size_t hostlen, uint16_t *port,
	  char *err, size_t errlen)
{
	*port = 0;
	if (strchr(s, ':') || s[0] == '[') {
		if (cfg_hostport_split(s, host, hostlen, port, err, errlen))
			return -EINVAL;
		if (*port == 0) {
			snprintf(err, errlen, "\"%.60s\": port 0", s);
			return -EINVAL;
		}
	} else {
		if (strlen(s) >= hostlen) {
			snprintf(err, errlen, "\"%.60s\": host too long", s);
			return -EINVAL;
		}
		snprintf(host, hostlen, "%s", s);
	}
	if (!cfg_is_dns_name(host) && !cfg_is_ip_literal(host)) {
		snprintf(err, errlen, "\"%.60s\" is not a host name or address", host);
		return -EINVAL;
	}
	return 0;
}

bool
cfg_mesh_peer_is_own_name(const char *entry, const char *hostname)
{
	size_t n = strcspn(entry, "/");

	return *hostname && strlen(hostname) == n &&
	       strncasecmp(entry, hostname, n) == 0;
}

int
cfg_mesh_peer_parse(const char *entry, struct cfg_mesh_peer *out, char *err,
		    size_t errlen)
{
	char buf[520];
	const char *slash = strchr(entry, '/');
	uint16_t hport, dport = 0;

	memset(out, 0, sizeof(*out));
	if (strlen(entry) >= sizeof(buf)) {
		snprintf(err, errlen, "entry too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", entry);
	if (slash) {
		buf[slash - entry] = '\0';
		if (strchr(slash + 1, '/')) {
			snprintf(err, errlen, "more than one '/'");
			return -EINVAL;
		}
		if (mesh_part(slash + 1, out->dial, sizeof(out->dial), &dport,
			      err, errlen))
			return -EINVAL;
		out->has_dial = true;
	}
	if (mesh_part(buf, out->host, sizeof(out->host), &hport, err, errlen))
		return -EINVAL;
	snprintf(out->http_host, sizeof(out->http_host), "%s", buf);
	if (!slash)
		snprintf(out->dial, sizeof(out->dial), "%s", out->host);
	out->port = dport ? dport : hport ? hport : 443;
	return 0;
}

int
cfg_sockaddr(const char *host, uint16_t port, struct sockaddr_storage *ss,
	     socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (*host == '\0') {
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_any;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

bool
cfg_is_ip_literal(const char *host)
{
	uint8_t buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

bool
cfg_is_dns_name(const char *host)
{
	size_t n = strlen(host), label = 0;

	if (n == 0 || n > 253)
		return false;
	if (host[n - 1] == '.')
		n--;	/* a trailing dot is the root, as Go allows */
	for (size_t i = 0; i < n; i++) {
		char c = host[i];

		if (c == '.') {
			if (label == 0 || host[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && host[n - 1] != '-';
}

int
cfg_cidr_parse(const char *s, struct cfg_cidr *out, char *err, size_t errlen)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	char *end;
	long prefix;
	size_t n;

	if (!slash) {
		snprintf(err, errlen, "\"%.60s\" needs a prefix length, as in 198.18.0.1/24", s);
		return -EINVAL;
	}
	n = (size_t)(slash - s);
	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "\"%.60s\": address too long", s);
		return -EINVAL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else {
		snprintf(err, errlen, "\"%.60s\" is not an IP address", buf);
		return -EINVAL;
	}
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || prefix < 0 ||
	    prefix > (out->family == AF_INET ? 32 : 128)) {
		snprintf(err, errlen, "\"%.60s\": bad prefix length", s);
		return -EINVAL;
	}
	out->prefix = (unsigned int)prefix;
	return 0;
}

int
cfg_cpulist_parse(const char *s, cpu_set_t *set, char *err, size_t errlen)
{
	const char *p = s;

	CPU_ZERO(set);
	if (*p == '\0') {
		snprintf(err, errlen, "empty CPU list");
		return -EINVAL;
	}
	while (*p) {
		char *end;
		long lo, hi;

		if (!isdigit((unsigned char)*p))
			goto bad;
		lo = strtol(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			hi = strtol(p, &end, 10);
			p = end;
		}
		if (lo > hi || hi >= CPU_SETSIZE)
			goto bad;
		for (long c = lo; c <= hi; c++)
			CPU_SET((size_t)c, set);
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "\"%.60s\" is not a CPU list (\"1\", \"2-3\", \"1,4-5\")", s);
	return -EINVAL;
}

void
cfg_cert_basename(const char *hostname, char *out, size_t len)
{
	size_t o = 0;

	for (; *hostname && o + 1 < len; hostname++) {
		char c = *hostname;

		if (isalnum((unsigned char)c) || c == '.' || c == '-')
			out[o++] = c;
	}
	if (len)
		out[o] = '\0';
}
