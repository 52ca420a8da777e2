/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The EAL argument vector, built from the configuration and what the
 * machine offers. Pure (no EAL, no I/O): unit-tested in
 * tests/unit/control/test_eal_args.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control/eal.h"

bool
ctl_eal_is_pci(const char *d)
{
	/* [DDDD:]BB:DD.F, hex digits; DPDK accepts both forms */
	const char *p = d;
	int n = 0;

	while (isxdigit((unsigned char)p[n]))
		n++;
	if (n == 4 && p[4] == ':') {
		p += 5;
		n = 0;
		while (isxdigit((unsigned char)p[n]))
			n++;
	}
	if (n != 2 || p[2] != ':' || !isxdigit((unsigned char)p[3]) ||
	    !isxdigit((unsigned char)p[4]) || p[5] != '.' ||
	    p[6] < '0' || p[6] > '7')
		return false;
	return p[7] == '\0' || p[7] == ',';
}

static bool
eal_has(const struct derper_config *cfg, const char *opt)
{
	size_t n = strlen(opt);

	for (unsigned int i = 0; i < cfg->dataplane.eal.n; i++) {
		const char *a = cfg->dataplane.eal.v[i];

		if (strncmp(a, opt, n) != 0)
			continue;
		/* "--opt", "--opt=x"; short options may carry the value ("-l2") */
		if (a[n] == '\0' || a[n] == '=' || (opt[1] != '-' && n == 2))
			return true;
	}
	return false;
}

static int
push(struct ctl_eal_args *out, const char *fmt, const char *arg)
{
	if (out->argc >= CTL_EAL_ARGS_MAX)
		return -E2BIG;
	snprintf(out->store[out->argc], sizeof(out->store[0]), fmt, arg);
	out->argv[out->argc] = out->store[out->argc];
	out->argc++;
	out->argv[out->argc] = NULL;
	return 0;
}

static int
add_memory(const struct derper_config *cfg, const struct ctl_eal_host *host,
	   struct ctl_eal_args *out, char *err, size_t errlen)
{
	bool no_huge = eal_has(cfg, "--no-huge");
	char mb[32];
	int rc = 0;

	if (cfg->dataplane.hugepages == CFG_HUGE_REQUIRE && !host->hugepages &&
	    !eal_has(cfg, "--in-memory")) {
		snprintf(err, errlen,
			 "no hugepages mounted and --no-huge not allowed (dataplane.hugepages = \"require\")");
		return -EINVAL;
	}
	if (eal_has(cfg, "--in-memory"))
		return 0;
	if (!no_huge && host->hugepages &&
	    cfg->dataplane.hugepages != CFG_HUGE_NEVER) {
		/* a --file-prefix means the operator wants shared files */
		return eal_has(cfg, "--file-prefix") ? 0
						     : push(out, "%s", "--in-memory");
	}
	if (!no_huge)
		rc |= push(out, "%s", "--no-huge");
	if (!eal_has(cfg, "-m") && !eal_has(cfg, "--socket-mem")) {
		snprintf(mb, sizeof(mb), "%lld",
			 (long long)cfg->dataplane.memory_mb);
		rc |= push(out, "%s", "-m");
		rc |= push(out, "%s", mb);
	}
	if (!eal_has(cfg, "--no-shconf"))
		rc |= push(out, "%s", "--no-shconf");
	return rc;
}

static int
add_lcores(const struct derper_config *cfg, const struct ctl_eal_host *host,
	   struct ctl_eal_args *out)
{
	char list[CFG_LCORES_LEN + 16], main_cpu[16];
	int rc = 0;

	if (eal_has(cfg, "-l") || eal_has(cfg, "-c") || eal_has(cfg, "--lcores"))
		return 0;
	snprintf(main_cpu, sizeof(main_cpu), "%d", host->main_cpu);
	snprintf(list, sizeof(list), "%d,%s", host->main_cpu,
		 cfg->dataplane.lcores);
	rc |= push(out, "%s", "-l");
	rc |= push(out, "%s", list);
	if (!eal_has(cfg, "--main-lcore")) {
		rc |= push(out, "%s", "--main-lcore");
		rc |= push(out, "%s", main_cpu);
	}
	return rc;
}

static int
add_devices(const struct derper_config *cfg, const struct ctl_eal_host *host,
	    struct ctl_eal_args *out)
{
	bool any_pci = false;
	bool operator_pci = eal_has(cfg, "-a") || eal_has(cfg, "--allow") ||
			    eal_has(cfg, "-b") || eal_has(cfg, "--block") ||
			    eal_has(cfg, "--no-pci");
	int rc = 0;

	for (unsigned int i = 0; i < cfg->dataplane.nb_ports; i++) {
		const char *dev = cfg->dataplane.ports[i].device;

		if (ctl_eal_is_pci(dev)) {
			any_pci = true;
			if (!operator_pci) {
				rc |= push(out, "%s", "-a");
				rc |= push(out, "%s", dev);
			}
		} else if (strncmp(dev, "net_af_xdp", 10) == 0 &&
			   cfg->dataplane.ports[i].mode == CFG_PORT_SHARED &&
			   !strstr(dev, "xdp_prog=") && host->xdp_prog) {
			/* shared mode: only STUN to the socket, the rest to
			 * the kernel (dataplane/xdp/stun_redirect.bpf.c) */
			char arg[CFG_DEVICE_LEN + 16 + 1024];

			snprintf(arg, sizeof(arg), "--vdev=%s,xdp_prog=%.1000s", dev, host->xdp_prog);
			rc |= push(out, "%s", arg);
		} else {
			rc |= push(out, "--vdev=%s", dev);
		}
	}
	if (!any_pci && !operator_pci)
		rc |= push(out, "%s", "--no-pci");
	return rc;
}

static int
add_logging(const struct derper_config *cfg, struct ctl_eal_args *out)
{
	/* DPDK's info level is chatty: our info maps to its notice. */
	static const char *const levels[] = {"error", "warning", "notice",
					     "info"};

	if (eal_has(cfg, "--log-level"))
		return 0;
	return push(out, "--log-level=%s", levels[cfg->log.level]);
}

int
ctl_eal_args_build(const struct derper_config *cfg,
		   const struct ctl_eal_host *host, struct ctl_eal_args *out,
		   char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = push(out, "%s", "derper");
	for (unsigned int i = 0; i < cfg->dataplane.eal.n && rc == 0; i++)
		rc = push(out, "%s", cfg->dataplane.eal.v[i]);
	if (rc == 0)
		rc = add_memory(cfg, host, out, err, errlen);
	if (rc == -EINVAL)
		return rc;
	rc |= add_lcores(cfg, host, out);
	rc |= add_devices(cfg, host, out);
	rc |= add_logging(cfg, out);
	if (rc) {
		snprintf(err, errlen, "too many EAL arguments (at most %d)",
			 CTL_EAL_ARGS_MAX);
		return -EINVAL;
	}
	return 0;
}

