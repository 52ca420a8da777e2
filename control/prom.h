/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text exposition (format 0.0.4) into a growing buffer: a
 * family's HELP and TYPE once, then its samples; histograms from
 * per-bucket counts. Label values are escaped here. Pure; unit-tested,
 * and the live output is checked by promtool in the e2e suite.
 */
#ifndef DERPER_CONTROL_PROM_H
#define DERPER_CONTROL_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prom {
	char *buf;
	size_t len, cap;
	bool oom;
	bool openmetrics;	/* OpenMetrics 1.0 instead of 0.0.4 */
};

void prom_init(struct prom *p);

/* The end of the exposition ("# EOF" in OpenMetrics). */
void prom_end(struct prom *p);
void prom_free(struct prom *p);

/* # HELP and # TYPE lines; type is "counter", "gauge" or "histogram". */
void prom_family(struct prom *p, const char *name, const char *type,
		 const char *help);

/*
 * One sample. labels: NULL, or pairs "k1", "v1", "k2", "v2", ... ended by
 * NULL (values escaped).
 */
void prom_u64(struct prom *p, const char *name, uint64_t v, ...);
void prom_double(struct prom *p, const char *name, double v, ...);

/*
 * A histogram from n per-bucket counts (not cumulative): bounds[0..n-2]
 * are the upper bounds, the last bucket is +Inf. One optional label pair
 * (key NULL for none).
 */
void prom_histogram(struct prom *p, const char *name, const double *bounds,
		    const uint64_t *counts, size_t n, double sum,
		    const char *lkey, const char *lval);

#endif /* DERPER_CONTROL_PROM_H */
