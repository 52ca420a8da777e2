/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <unistd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "config/addr.h"
#include "control/eal.h"
#include "base/log.h"

/* A hugetlbfs mount and at least one free page of any size. */
static bool
hugepages_available(void)
{
	char line[512];
	bool mounted = false;
	unsigned long free_pages = 0;
	glob_t g;
	FILE *f = fopen("/proc/mounts", "r");

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strstr(line, " hugetlbfs "))
				mounted = true;
		fclose(f);
	}
	if (!mounted)
		return false;
	if (glob("/sys/kernel/mm/hugepages/hugepages-*/free_hugepages", 0,
		 NULL, &g) != 0)
		return false;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		unsigned long n = 0;

		f = fopen(g.gl_pathv[i], "r");
		if (f) {
			if (fscanf(f, "%lu", &n) == 1)
				free_pages += n;
			fclose(f);
		}
	}
	globfree(&g);
	return free_pages > 0;
}

int
ctl_eal_probe_host(const struct derper_config *cfg, struct ctl_eal_host *host)
{
	cpu_set_t have, want;
	char err[128];

	static char prog[1024];
	char exe[900];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	host->hugepages = hugepages_available();
	host->main_cpu = -1;
	host->xdp_prog = NULL;
	if (n > 0) {
		exe[n] = '\0';
		snprintf(prog, sizeof(prog), "%s/%s", dirname(exe), DERPER_XDP_PROG_NAME);
		if (access(prog, R_OK) == 0)
			host->xdp_prog = prog;
	}
	if (sched_getaffinity(0, sizeof(have), &have))
		return -errno;
	if (cfg_cpulist_parse(cfg->dataplane.lcores, &want, err, sizeof(err)))
		return -EINVAL;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &have) && !CPU_ISSET(c, &want)) {
			host->main_cpu = c;
			return 0;
		}
	}
	return -ENOENT;
}

/* EAL removes its telemetry socket at exit but not the runtime directory
 * it made for it (/var/run/dpdk/<prefix>): remove that too when it is
 * left empty, so restarts and tests do not pile directories up in
 * /var/run. A directory with the operator's shared files stays, and so
 * does the default prefix's ("rte"), which other DPDK processes on the
 * host may be creating their sockets in at this very moment. */
static char runtime_dir[PATH_MAX];

static void
remove_runtime_dir(void)
{
	const char *base = strrchr(runtime_dir, '/');

	if (runtime_dir[0] && base && strcmp(base + 1, "rte") != 0)
		(void)rmdir(runtime_dir);
}

int
ctl_eal_init(const struct derper_config *cfg)
{
	static struct ctl_eal_args args;
	struct ctl_eal_host host;
	char err[256], joined[2048];
	size_t o = 0;
	int rc;

	rc = ctl_eal_probe_host(cfg, &host);
	if (rc) {
		LOG_ERR("eal: no CPU left for the control thread",
			"lcores=%s", cfg->dataplane.lcores);
		return rc;
	}
	if (ctl_eal_args_build(cfg, &host, &args, err, sizeof(err))) {
		LOG_ERR("eal: cannot start", "cause=\"%s\"", err);
		return -EINVAL;
	}
	for (int i = 1; i < args.argc && o < sizeof(joined); i++)
		o += (size_t)snprintf(joined + o, sizeof(joined) - o, "%s%s",
				      i > 1 ? " " : "", args.argv[i]);
	LOG_INFO("eal: init", "hugepages=%s args=\"%s\"",
		 host.hugepages ? "yes" : "no", joined);
	/* before rte_eal_init: atexit handlers run in reverse order, so
	 * this one runs after the telemetry library's removes its socket */
	atexit(remove_runtime_dir);
	rc = rte_eal_init(args.argc, args.argv);
	if (rc < 0) {
		LOG_ERR("eal: init failed", "error=\"%s\" args=\"%s\"",
			rte_strerror(rte_errno), joined);
		return -(rte_errno ? rte_errno : EINVAL);
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	return 0;
}

void
ctl_eal_uninit(void)
{
	rte_eal_cleanup();
}
