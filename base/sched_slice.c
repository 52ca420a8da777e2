/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/sched_slice.h"

/* include/uapi/linux/sched/types.h (glibc 2.36 has no wrapper) */
struct sched_attr_v1 {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;		/* SCHED_OTHER: the slice (6.12+) */
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};

int
sched_slice_set(uint64_t ns)
{
	struct sched_attr_v1 a;

	memset(&a, 0, sizeof(a));
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0))
		return -errno;
	if (a.sched_policy != SCHED_OTHER && a.sched_policy != SCHED_BATCH)
		return 0;	/* the operator chose a policy: keep it */
	a.size = sizeof(a);
	a.sched_flags = 0;
	a.sched_runtime = ns;
	if (syscall(SYS_sched_setattr, 0, &a, 0))
		return -errno;
	return 0;
}
