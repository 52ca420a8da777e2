/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/load.h"
#include "config/merge.h"
#include "config/validate.h"
#include "tests/lib/harness.h"

static struct derper_config *cfg;
static struct cfg_errors errs;

static int
setup(void)
{
	cfg = calloc(1, sizeof(*cfg));
	return cfg ? 0 : 1;
}

static int
teardown(void)
{
	free(cfg);
	return 0;
}

/* `extra` over a valid baseline: hostname derp.example.com and plain
 * HTTP on :8080 unless `extra` sets them. */
static int
check(const char *extra)
{
	cfg_defaults(cfg);
	strcpy(cfg->hostname, "derp.example.com");
	strcpy(cfg->listen, ":8080");
	memset(&errs, 0, sizeof(errs));
	if (cfg_file_apply(cfg, "v.conf", extra, &errs))
		return -100;
	return cfg_validate(cfg, &errs);
}

static void
expect(const char *extra, const char *msg)
{
	int rc = check(extra);

	CU_ASSERT_EQUAL(rc, -EINVAL);
	if (rc != -EINVAL || errs.n == 0) {
		fprintf(stderr, "\nexpected failure for: %s\n", extra);
		return;
	}
	if (!strstr(errs.msg[0], msg))
		fprintf(stderr, "\n got: %s\nwant: %s\n", errs.msg[0], msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[0], msg));
}

static void
test_baseline_ok(void)
{
	CU_ASSERT_EQUAL(check(""), 0);
	CU_ASSERT_EQUAL(errs.n, 0);
}

static void
test_tls_rule(void)
{
	cfg_defaults(cfg);
	strcpy(cfg->listen, ":443");
	CU_ASSERT(cfg_serves_tls(cfg));
	strcpy(cfg->listen, ":8443");
	CU_ASSERT(!cfg_serves_tls(cfg));	/* letsencrypt off 443: plain */
	strcpy(cfg->listen, "[::]:https");
	CU_ASSERT(cfg_serves_tls(cfg));
	strcpy(cfg->listen, ":8443");
	cfg->cert.mode = CFG_CERT_MANUAL;
	CU_ASSERT(cfg_serves_tls(cfg));
	cfg->cert.mode = CFG_CERT_SELFSIGNED;
	CU_ASSERT(cfg_serves_tls(cfg));
}

static void
test_listen(void)
{
	expect("listen = \"443\";\n", "v.conf:1: listen: \"443\" has no port");
	expect("listen = \"::1:443\";\n", "IPv6 addresses need brackets");
	expect("listen = \"example.com:443\";\n",
	       "the host must be an IP address, localhost or empty");
	CU_ASSERT_EQUAL(check("listen = \"[::1]:8443\";\n"), 0);
	CU_ASSERT_EQUAL(check("listen = \"127.0.0.1:8443\";\n"), 0);
	expect("http_port = 0;\n", "v.conf:1: http_port: 0 is not a port; use -1");
}

static void
test_hostname_and_certs(void)
{
	/* letsencrypt on 443 needs a DNS name */
	expect("listen = \":443\";\nhostname = \"\";\n",
	       "v.conf:2: hostname: required with cert.mode = \"letsencrypt\"");
	expect("listen = \":443\";\nhostname = \"192.0.2.1\";\n",
	       "Let's Encrypt needs a DNS name");
	expect("listen = \":443\";\nhostname = \"localhost\";\n",
	       "is not a public DNS name");
	expect("hostname = \"bad_name!\";\n", "is neither a DNS name nor an IP address");
	expect("cert: { mode = \"manual\"; };\nhostname = \"\";\n",
	       "required with cert.mode = \"manual\"");
	expect("cert: { mode = \"selfsigned\"; dir = \"\"; };\n",
	       "cert.dir: required when TLS is served");
	expect("listen = \":443\";\ncert: { acme_directory = \"ftp://x\"; };\n",
	       "is not an http(s) URL");
	expect("cert: { mode = \"selfsigned\"; acme_email = \"nobody\"; };\n",
	       "is not an e-mail address");
	/* letsencrypt off port 443 serves plain HTTP: no hostname needed */
	CU_ASSERT_EQUAL(check("hostname = \"\";\n"), 0);
	CU_ASSERT_EQUAL(check("cert: { mode = \"selfsigned\"; };\nhostname = \"\";\n"), 0);
	CU_ASSERT_EQUAL(check("cert: { mode = \"manual\"; };\nhostname = \"192.0.2.1\";\n"), 0);
}

static void
test_home_key_file(void)
{
	expect("home = \"elsewhere\";\n", "use \"\" (default page), \"blank\" or an http(s):// URL");
	CU_ASSERT_EQUAL(check("home = \"blank\";\n"), 0);
	CU_ASSERT_EQUAL(check("home = \"https://example.com/\";\n"), 0);
	expect("key_file = \"\";\n", "key_file: required");
	CU_ASSERT_EQUAL(check("key_file = \"\";\ndev = true;\n"), 0);
}

static void
test_mesh_verify(void)
{
	expect("mesh: { peers = [ \"a.example.com\" ]; };\n",
	       "v.conf:1: mesh.peers: meshing needs a shared key: set mesh.psk_file");
	expect("mesh: { psk_file = \"/k\"; peers = [ \"https://a\" ]; };\n",
	       "is not \"host\", \"host:port\" or \"host/dialhost\"");
	CU_ASSERT_EQUAL(check("mesh: { psk_file = \"/k\"; peers = [ \"a.example.com\", "
			      "\"b.example.com/10.0.0.2\", \"c.example.com:8443\", \"[::1]:443\" ]; };\n"), 0);
	expect("verify: { url = \"hooks.example.com\"; };\n", "verify.url: not an http(s) URL");
	expect("verify: { clients = true; socket = \"\"; };\n",
	       "verify.socket: required with verify.clients = true");
}

static void
test_metrics(void)
{
	expect("metrics: { listen = \"127.0.0.1:8080\"; };\n",
	       "metrics.listen: port 8080 is the DERP port");
	expect("metrics: { listen = \"nohost\"; };\n", "has no port");
	expect("cert: { mode = \"selfsigned\"; };\nmetrics: { listen = \"127.0.0.1:80\"; };\n",
	       "is the HTTP port");
	CU_ASSERT_EQUAL(check("metrics: { listen = \"\"; };\n"), 0);
}

static void
test_dataplane(void)
{
	expect("dataplane: { lcores = \"1-\"; };\n", "is not a CPU list");
	expect("dataplane: { lcores = \"2\"; eal = [ \"-l\", \"0-3\" ]; };\n",
	       "dataplane.eal also sets the lcores; set them in one place");
	expect("dataplane: { eal = [ \"--no-huge\", \"--in-memory\" ]; };\n",
	       "--no-huge and --in-memory cannot be combined");
	expect("dataplane: { eal = [ \"--no-huge\" ]; hugepages = \"require\"; };\n",
	       "\"require\" contradicts --no-huge");
	expect("dataplane: { ring_size = 1000; };\n", "1000 is not a power of two");
	expect("dataplane: { ports = ( { device = \"net_tap0\"; mode = \"exclusive\"; } ); };\n",
	       "port 0: exclusive mode needs the address");
	expect("dataplane: { ports = ( { device = \"net_tap0\"; address = \"198.18.0.1\"; } ); };\n",
	       "needs a prefix length");
	expect("dataplane: { ports = ( { device = \"net_tap0\"; }, { device = \"net_tap0\"; } ); };\n",
	       "port 1: \"net_tap0\" is also port 0");
	/* the operator may place lcores through EAL if dataplane.lcores is left alone */
	CU_ASSERT_EQUAL(check("dataplane: { eal = [ \"-l\", \"0-1\" ]; };\n"), 0);
}

static void
test_host_checks(void)
{
	cpu_set_t have;
	char text[256];
	int ncpu;

	CU_ASSERT_EQUAL_FATAL(sched_getaffinity(0, sizeof(have), &have), 0);
	ncpu = CPU_COUNT(&have);
	/* a CPU that does not exist */
	CU_ASSERT_EQUAL(check("dataplane: { lcores = \"1000\"; };\n"), 0);
	CU_ASSERT_EQUAL(cfg_validate_host(cfg, &errs), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[0], "CPU 1000 is not available"));
	/* every CPU: nothing left for control */
	snprintf(text, sizeof(text), "dataplane: { lcores = \"0-%d\"; };\n", CPU_SETSIZE - 1);
	CU_ASSERT_EQUAL(check(text), 0);
	memset(&errs, 0, sizeof(errs));
	if (ncpu > 1) {
		int last = -1;

		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &have))
				last = c;
		snprintf(text, sizeof(text), "dataplane: { lcores = \"0-%d\"; };\n", last);
		CU_ASSERT_EQUAL(check(text), 0);
		CU_ASSERT_EQUAL(cfg_validate_host(cfg, &errs), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[0], "takes every usable CPU"));
	}
	/* manual mode with a DNS name needs the files */
	CU_ASSERT_EQUAL(check("cert: { mode = \"manual\"; dir = \"/nonexistent\"; };\n"), 0);
	CU_ASSERT_EQUAL(cfg_validate_host(cfg, &errs), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msg[errs.n - 1],
				      "cert.mode \"manual\" needs /nonexistent/derp.example.com.key"));
}

static CU_TestInfo tests[] = {
	{"baseline", test_baseline_ok},
	{"TLS rule (derper 10.4)", test_tls_rule},
	{"listen and http_port", test_listen},
	{"hostname and certificates", test_hostname_and_certs},
	{"home and key_file", test_home_key_file},
	{"mesh and verify", test_mesh_verify},
	{"metrics listener", test_metrics},
	{"dataplane", test_dataplane},
	{"host checks", test_host_checks},
	CU_TEST_INFO_NULL,
};

int
main(void)
{
	return harness_run("config/validate", tests, setup, teardown);
}
