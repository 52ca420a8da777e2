/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL bring-up. The operator's dataplane.eal always wins; the relay adds a
 * default only where the operator gave none, and never one that conflicts:
 *   memory   --in-memory with hugepages; --no-huge -m N --no-shconf without
 *            (DPDK 22.11 rejects --no-huge with --in-memory)
 *   lcores   -l <main>,<dataplane.lcores> --main-lcore <main>
 *   devices  -a <pci> per PCI port, --vdev <dev> per virtual port,
 *            --no-pci when no port is a PCI device
 *   logging  --log-level from log.level
 */
#ifndef DERPER_CONTROL_EAL_H
#define DERPER_CONTROL_EAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

enum { CTL_EAL_ARGS_MAX = CFG_LIST_MAX + 3 * CFG_PORTS_MAX + 16 };

/* What the machine offers, detected by ctl_eal_probe_host(). */
struct ctl_eal_host {
	bool hugepages;		/* a hugetlbfs mount with free pages */
	int main_cpu;		/* CPU for the main lcore (control thread) */
	/* the XDP program shared-mode net_af_xdp ports get (installed next
	 * to the derper binary), or NULL */
	const char *xdp_prog;
};

struct ctl_eal_args {
	int argc;
	char *argv[CTL_EAL_ARGS_MAX + 1];
	char store[CTL_EAL_ARGS_MAX][CFG_DEVICE_LEN + 16 + 1024];
};

/* Is this device string a PCI address ("0000:3b:02.1" or "3b:02.1")? */
bool ctl_eal_is_pci(const char *device);

/* Detect hugepages and choose the main CPU (the first usable CPU that is
 * not a dataplane lcore). Returns 0 or -errno. */
int ctl_eal_probe_host(const struct derper_config *cfg,
		       struct ctl_eal_host *host);

/*
 * Build the EAL argument vector from cfg and host. Pure. Returns 0, or
 * -EINVAL with the cause in err (e.g. "no hugepages mounted and --no-huge
 * not allowed").
 */
int ctl_eal_args_build(const struct derper_config *cfg,
		       const struct ctl_eal_host *host,
		       struct ctl_eal_args *out, char *err, size_t errlen);

/* Probe, build, log and call rte_eal_init(). Returns 0 or -errno with the
 * cause logged. Main thread only, once. */
int ctl_eal_init(const struct derper_config *cfg);

/* rte_eal_cleanup(). */
void ctl_eal_uninit(void);

#endif /* DERPER_CONTROL_EAL_H */
