/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "config/addr.h"
#include "tests/lib/harness.h"

static char err[256];

static void
test_hostport(void)
{
	char host[128];
	uint16_t port = 0;

	CU_ASSERT_EQUAL(cfg_hostport_split(":443", host, sizeof(host), &port, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(host, "");
	CU_ASSERT_EQUAL(port, 443);
	CU_ASSERT_EQUAL(cfg_hostport_split("[::]:8443", host, sizeof(host), &port, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(host, "::");
	CU_ASSERT_EQUAL(port, 8443);
	CU_ASSERT_EQUAL(cfg_hostport_split("127.0.0.1:https", host, sizeof(host), &port, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(port, 443);
	CU_ASSERT_EQUAL(cfg_hostport_split(":http", host, sizeof(host), &port, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(port, 80);
	CU_ASSERT_EQUAL(cfg_hostport_split("[fe80::1%eth0]:1", host, sizeof(host), &port, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(host, "fe80::1%eth0");
	CU_ASSERT_EQUAL(cfg_hostport_split("1.2.3.4", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_hostport_split(":65536", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_hostport_split(":", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_hostport_split("[::1]443", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_hostport_split(":-1", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
}

static void
test_sockaddr(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	CU_ASSERT_EQUAL(cfg_sockaddr("", 443, &ss, &len), 0);
	CU_ASSERT_EQUAL(ss.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 443);
	CU_ASSERT_EQUAL(cfg_sockaddr("localhost", 1, &ss, &len), 0);
	CU_ASSERT_EQUAL(ss.ss_family, AF_INET);
	CU_ASSERT_EQUAL(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	CU_ASSERT_EQUAL(cfg_sockaddr("::1", 1, &ss, &len), 0);
	CU_ASSERT_EQUAL(ss.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(cfg_sockaddr("example.com", 1, &ss, &len), -EINVAL);
}

static void
test_names(void)
{
	CU_ASSERT(cfg_is_dns_name("derp.example.com"));
	CU_ASSERT(cfg_is_dns_name("derp-tok-0.example.com."));
	CU_ASSERT(cfg_is_dns_name("localhost"));
	CU_ASSERT(!cfg_is_dns_name("-bad.example.com"));
	CU_ASSERT(!cfg_is_dns_name("bad-.example.com"));
	CU_ASSERT(!cfg_is_dns_name("a..b"));
	CU_ASSERT(!cfg_is_dns_name("under_score.com"));
	CU_ASSERT(!cfg_is_dns_name(""));
	CU_ASSERT(!cfg_is_dns_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"));
	CU_ASSERT(cfg_is_ip_literal("192.0.2.1"));
	CU_ASSERT(cfg_is_ip_literal("2001:db8::1"));
	CU_ASSERT(!cfg_is_ip_literal("192.0.2"));
	CU_ASSERT(!cfg_is_ip_literal("[::1]"));
}

static void
test_cidr(void)
{
	struct cfg_cidr c;

	CU_ASSERT_EQUAL(cfg_cidr_parse("198.18.0.1/24", &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.family, AF_INET);
	CU_ASSERT_EQUAL(c.prefix, 24);
	CU_ASSERT_EQUAL(c.addr[0], 198);
	CU_ASSERT_EQUAL(c.addr[3], 1);
	CU_ASSERT_EQUAL(cfg_cidr_parse("2001:db8::1/64", &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.family, AF_INET6);
	CU_ASSERT_EQUAL(cfg_cidr_parse("198.18.0.1/33", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_cidr_parse("198.18.0.1/", &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_cidr_parse("x/8", &c, err, sizeof(err)), -EINVAL);
}

static void
test_cpulist(void)
{
	cpu_set_t s;

	CU_ASSERT_EQUAL(cfg_cpulist_parse("1", &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(CPU_COUNT(&s), 1);
	CU_ASSERT(CPU_ISSET(1, &s));
	CU_ASSERT_EQUAL(cfg_cpulist_parse("2-4,7", &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(CPU_COUNT(&s), 4);
	CU_ASSERT(CPU_ISSET(7, &s) && CPU_ISSET(3, &s) && !CPU_ISSET(5, &s));
	CU_ASSERT_EQUAL(cfg_cpulist_parse("", &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_cpulist_parse("3-2", &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_cpulist_parse("1,", &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg_cpulist_parse("a", &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_cpulist_parse("99999", &s, err, sizeof(err)), -EINVAL);
}

static void
test_cert_basename(void)
{
	char out[64];

	cfg_cert_basename("derp.example.com", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "derp.example.com");
	cfg_cert_basename("2001:db8::1", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "2001db81");
	cfg_cert_basename("a/../b", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "a..b");
}

static void
test_mesh_peer(void)
{
	struct cfg_mesh_peer p;

	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("derp2.example.com", &p, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(p.host, "derp2.example.com");
	CU_ASSERT_STRING_EQUAL(p.http_host, "derp2.example.com");
	CU_ASSERT_STRING_EQUAL(p.dial, "derp2.example.com");
	CU_ASSERT_EQUAL(p.port, 443);
	CU_ASSERT_FALSE(p.has_dial);
	/* host/dialhost: TLS and Host use host, the socket dialhost */
	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("derp2.example.com:8443/10.0.0.2", &p, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(p.host, "derp2.example.com");
	CU_ASSERT_STRING_EQUAL(p.http_host, "derp2.example.com:8443");
	CU_ASSERT_STRING_EQUAL(p.dial, "10.0.0.2");
	CU_ASSERT_EQUAL(p.port, 8443);
	CU_ASSERT(p.has_dial);
	/* the dialhost's port wins */
	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("derp-1/derp-1.derp.svc:9443", &p, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.port, 9443);
	CU_ASSERT_STRING_EQUAL(p.dial, "derp-1.derp.svc");
	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("[2001:db8::1]:443", &p, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(p.host, "2001:db8::1");
	/* refused */
	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("a/b/c", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("host:0", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("bad_name!", &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(cfg_mesh_peer_parse("ok/", &p, err, sizeof(err)), -EINVAL);
	/* derper skips the entry that is exactly its hostname */
	CU_ASSERT(cfg_mesh_peer_is_own_name("derp1.example.com", "derp1.example.com"));
	CU_ASSERT(cfg_mesh_peer_is_own_name("DERP1.example.com/10.0.0.1", "derp1.example.com"));
	CU_ASSERT_FALSE(cfg_mesh_peer_is_own_name("derp1.example.com:443", "derp1.example.com"));
	CU_ASSERT_FALSE(cfg_mesh_peer_is_own_name("derp1.example.co", "derp1.example.com"));
	CU_ASSERT_FALSE(cfg_mesh_peer_is_own_name("derp1", ""));
}

static CU_TestInfo tests[] = {
	{"host:port", test_hostport},
	{"sockaddr", test_sockaddr},
	{"DNS names and IP literals", test_names},
	{"CIDR", test_cidr},
	{"CPU lists", test_cpulist},
	{"derper cert file names", test_cert_basename},
	{"mesh peers: host/dialhost, own name", test_mesh_peer},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("config/addr", tests)
