/* SPDX-License-Identifier: BSD-3-Clause */
/* EAL defaults: added only where the operator gave none, never in
 * conflict (docs/architecture.md §6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/merge.h"
#include "control/eal.h"
#include "tests/lib/harness.h"

static struct derper_config cfg;
static struct ctl_eal_args args;
static char err[256];
static const char *xdp_prog;

static char joined[4096];

static const char *
build(bool huge, int main_cpu)
{
	struct ctl_eal_host host = {.hugepages = huge, .main_cpu = main_cpu,
				    .xdp_prog = xdp_prog};
	size_t o = 0;

	if (ctl_eal_args_build(&cfg, &host, &args, err, sizeof(err)))
		return NULL;
	joined[0] = '\0';
	for (int i = 1; i < args.argc; i++)
		o += (size_t)snprintf(joined + o, sizeof(joined) - o, "%s%s", i > 1 ? " " : "",
				      args.argv[i]);
	CU_ASSERT_PTR_NULL(args.argv[args.argc]);
	return joined;
}

static void
eal(const char *const *a)
{
	cfg.dataplane.eal.n = 0;
	for (; *a; a++)
		strcpy(cfg.dataplane.eal.v[cfg.dataplane.eal.n++], *a);
}

static void
test_defaults_without_hugepages(void)
{
	cfg_defaults(&cfg);
	CU_ASSERT_STRING_EQUAL(build(false, 0),
			       "--no-huge -m 256 --no-shconf -l 0,1 --main-lcore 0 --no-pci --log-level=notice");
}

static void
test_defaults_with_hugepages(void)
{
	cfg_defaults(&cfg);
	strcpy(cfg.dataplane.lcores, "2-3");
	CU_ASSERT_STRING_EQUAL(build(true, 1),
			       "--in-memory -l 1,2-3 --main-lcore 1 --no-pci --log-level=notice");
	cfg.dataplane.hugepages = CFG_HUGE_NEVER;
	CU_ASSERT_STRING_EQUAL(build(true, 1),
			       "--no-huge -m 256 --no-shconf -l 1,2-3 --main-lcore 1 --no-pci --log-level=notice");
}

static void
test_require_hugepages(void)
{
	cfg_defaults(&cfg);
	cfg.dataplane.hugepages = CFG_HUGE_REQUIRE;
	CU_ASSERT_PTR_NULL(build(false, 0));
	CU_ASSERT_STRING_EQUAL(err, "no hugepages mounted and --no-huge not allowed (dataplane.hugepages = \"require\")");
	CU_ASSERT_PTR_NOT_NULL(build(true, 0));
}

static void
test_operator_wins(void)
{
	static const char *const mem[] = {"--no-huge", "-m", "512", NULL};
	static const char *const lc[] = {"--lcores", "0@0,1@1", "--log-level=debug", NULL};
	static const char *const inmem[] = {"--in-memory", NULL};
	static const char *const prefix[] = {"--file-prefix=derp", NULL};
	static const char *const allow[] = {"-a", "0000:3b:02.1", NULL};

	cfg_defaults(&cfg);
	eal(mem);
	CU_ASSERT_STRING_EQUAL(build(true, 0),
			       "--no-huge -m 512 --no-shconf -l 0,1 --main-lcore 0 --no-pci --log-level=notice");
	eal(lc);
	CU_ASSERT_STRING_EQUAL(build(false, 0),
			       "--lcores 0@0,1@1 --log-level=debug --no-huge -m 256 --no-shconf --no-pci");
	eal(inmem);
	CU_ASSERT_STRING_EQUAL(build(false, 0),
			       "--in-memory -l 0,1 --main-lcore 0 --no-pci --log-level=notice");
	eal(prefix);
	CU_ASSERT_STRING_EQUAL(build(true, 0),
			       "--file-prefix=derp -l 0,1 --main-lcore 0 --no-pci --log-level=notice");
	/* the operator's allowlist: no --no-pci, no -a of ours */
	eal(allow);
	cfg.dataplane.nb_ports = 1;
	strcpy(cfg.dataplane.ports[0].device, "0000:3b:02.1");
	CU_ASSERT_STRING_EQUAL(build(true, 0),
			       "-a 0000:3b:02.1 --in-memory -l 0,1 --main-lcore 0 --log-level=notice");
}

static void
test_ports(void)
{
	cfg_defaults(&cfg);
	cfg.dataplane.nb_ports = 2;
	strcpy(cfg.dataplane.ports[0].device, "0000:3b:02.1");
	strcpy(cfg.dataplane.ports[1].device, "net_af_xdp0,iface=eth1,start_queue=0");
	CU_ASSERT_STRING_EQUAL(build(true, 0),
			       "--in-memory -l 0,1 --main-lcore 0 -a 0000:3b:02.1 "
			       "--vdev=net_af_xdp0,iface=eth1,start_queue=0 --log-level=notice");
	cfg.dataplane.nb_ports = 1;
	strcpy(cfg.dataplane.ports[0].device, "net_tap0");
	CU_ASSERT_STRING_EQUAL(build(true, 0),
			       "--in-memory -l 0,1 --main-lcore 0 --vdev=net_tap0 --no-pci --log-level=notice");
}

static void
test_is_pci(void)
{
	CU_ASSERT(ctl_eal_is_pci("0000:3b:02.1"));
	CU_ASSERT(ctl_eal_is_pci("3b:02.1"));
	CU_ASSERT(ctl_eal_is_pci("0000:af:00.7,rxq_cqe_comp_en=1"));
	CU_ASSERT(!ctl_eal_is_pci("net_tap0"));
	CU_ASSERT(!ctl_eal_is_pci("0000:3b:02.8"));
	CU_ASSERT(!ctl_eal_is_pci("0000:3b:02"));
}

/* Shared-mode net_af_xdp ports get the relay's XDP program, unless the
 * operator named one; exclusive ports and other PMDs never. */
static void
test_xdp_program(void)
{
	cfg_defaults(&cfg);
	cfg.dataplane.nb_ports = 3;
	strcpy(cfg.dataplane.ports[0].device, "net_af_xdp0,iface=eth1");
	cfg.dataplane.ports[0].mode = CFG_PORT_SHARED;
	strcpy(cfg.dataplane.ports[1].device, "net_af_xdp1,iface=eth2,xdp_prog=/opt/mine.o");
	cfg.dataplane.ports[1].mode = CFG_PORT_SHARED;
	strcpy(cfg.dataplane.ports[2].device, "net_af_xdp2,iface=eth3");
	cfg.dataplane.ports[2].mode = CFG_PORT_EXCLUSIVE;
	xdp_prog = "/usr/local/bin/stun_redirect.bpf.o";
	CU_ASSERT_PTR_NOT_NULL_FATAL(build(false, 0));
	CU_ASSERT_PTR_NOT_NULL(strstr(joined,
		"--vdev=net_af_xdp0,iface=eth1,xdp_prog=/usr/local/bin/stun_redirect.bpf.o "));
	CU_ASSERT_PTR_NOT_NULL(strstr(joined, "--vdev=net_af_xdp1,iface=eth2,xdp_prog=/opt/mine.o "));
	CU_ASSERT_PTR_NOT_NULL(strstr(joined, "--vdev=net_af_xdp2,iface=eth3 "));
	xdp_prog = NULL;	/* not installed: DPDK's own program */
	CU_ASSERT_PTR_NOT_NULL_FATAL(build(false, 0));
	CU_ASSERT_PTR_NOT_NULL(strstr(joined, "--vdev=net_af_xdp0,iface=eth1 "));
}

static CU_TestInfo tests[] = {
	{"the XDP program of shared net_af_xdp ports", test_xdp_program},
	{"defaults without hugepages", test_defaults_without_hugepages},
	{"defaults with hugepages", test_defaults_with_hugepages},
	{"hugepages = require", test_require_hugepages},
	{"the operator's arguments win", test_operator_wins},
	{"ports become -a / --vdev", test_ports},
	{"PCI addresses", test_is_pci},
	CU_TEST_INFO_NULL,
};

HARNESS_MAIN("control/eal_args", tests)
