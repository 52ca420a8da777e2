/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The monotonic clock (CLOCK_MONOTONIC: never jumps with the wall clock),
 * in the units the relay keeps deadlines and round-trip times in. A vDSO
 * call, no syscall. Any thread; not for the dataplane poll loop, which
 * counts TSC cycles.
 */
#ifndef DERPER_BASE_CLOCK_H
#define DERPER_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000ULL;
}

#endif /* DERPER_BASE_CLOCK_H */
