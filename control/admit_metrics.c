/* SPDX-License-Identifier: BSD-3-Clause */
/* Admission counters as Prometheus metrics and DPDK telemetry, from a
 * snapshot of the admission thread's counters (control/admit.c). */
#include <stdio.h>

#include <rte_telemetry.h>

#include "control/admit.h"
#include "control/prom.h"

int
ctl_admit_telemetry(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct admit_snapshot a;

	(void)cmd;
	(void)params;
	ctl_admit_snapshot(&a);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "requests", a.requests);
	rte_tel_data_add_dict_u64(d, "cache_hits", a.cache_hits);
	rte_tel_data_add_dict_u64(d, "coalesced", a.coalesced);
	rte_tel_data_add_dict_u64(d, "localapi_calls", a.localapi_calls);
	rte_tel_data_add_dict_u64(d, "webhook_calls", a.webhook_calls);
	rte_tel_data_add_dict_u64(d, "status_fetches",
				  a.status_fetches);
	rte_tel_data_add_dict_int(d, "localapi_mode", a.mode);
	rte_tel_data_add_dict_u64(d, "admitted", a.admitted);
	rte_tel_data_add_dict_u64(d, "admitted_fail_open",
				  a.admitted_fail_open);
	for (int r = ADMIT_UNKNOWN_KEY; r < ADMIT_REASON_NB; r++) {
		char name[64];

		snprintf(name, sizeof(name), "rejected_%s", admit_reason_name(r));
		rte_tel_data_add_dict_u64(d, name,
					  a.rejected[r]);
	}
	return 0;
}

void
ctl_admit_metrics(struct prom *p)
{
	struct admit_snapshot a;

	ctl_admit_snapshot(&a);
	if (!a.running)
		return;
	prom_family(p, "derper_admission_requests_total", "counter",
		    "Clients sent to admission (verify_clients / verify_client_url)");
	prom_u64(p, "derper_admission_requests_total",
		 a.requests, NULL);
	prom_family(p, "derper_admission_lookups_total", "counter",
		    "Admission answers by where they came from");
	prom_u64(p, "derper_admission_lookups_total",
		 a.cache_hits, "source", "cache", NULL);
	prom_u64(p, "derper_admission_lookups_total",
		 a.coalesced, "source", "coalesced", NULL);
	prom_u64(p, "derper_admission_lookups_total",
		 a.localapi_calls, "source", "localapi", NULL);
	prom_u64(p, "derper_admission_lookups_total",
		 a.webhook_calls, "source", "webhook", NULL);
	prom_family(p, "derper_admission_results_total", "counter",
		    "Admission verdicts: admitted, or rejected with the reason");
	prom_u64(p, "derper_admission_results_total",
		 a.admitted -
		 a.admitted_fail_open,
		 "result", "admitted", "reason", "", NULL);
	prom_u64(p, "derper_admission_results_total",
		 a.admitted_fail_open,
		 "result", "admitted", "reason", "webhook_unreachable_fail_open", NULL);
	for (int r = ADMIT_UNKNOWN_KEY; r < ADMIT_REASON_NB; r++)
		prom_u64(p, "derper_admission_results_total",
			 a.rejected[r],
			 "result", "rejected", "reason", admit_reason_name(r), NULL);
	if (a.localapi) {
		static const char *const modes[3] = {"unknown", "whois", "status"};
		int mode = a.mode;

		prom_family(p, "derper_admission_localapi_mode", "gauge",
			    "How verify.clients asks tailscaled (1 for the mode in use): whois by node "
			    "key (v1.70+), or its status peer list (older), unknown before its first answer");
		for (int m = 0; m < 3; m++)
			prom_u64(p, "derper_admission_localapi_mode", m == mode, "mode", modes[m], NULL);
		prom_family(p, "derper_admission_status_fetches_total", "counter",
			    "Peer lists fetched from tailscaled's /localapi/v0/status (status mode)");
		prom_u64(p, "derper_admission_status_fetches_total",
			 a.status_fetches, NULL);
	}
}
