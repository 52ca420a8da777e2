/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A short scheduler slice for the calling thread (the forwarding lcore and
 * the TLS threads on shared cores). Linux's EEVDF scheduler (6.6 and
 * later) gives every thread a slice, by default a few milliseconds, and
 * from 6.12 lets a thread that wakes with a shorter slice than the one
 * running preempt it at once. A relay thread woken for a packet (the lcore
 * by a TLS thread's kick, a TLS thread by its sockets) then runs within
 * microseconds instead of waiting out the slice of whatever else holds
 * that CPU. The nice value and policy stay as they are; older kernels
 * ignore the field. No privilege is needed.
 */
#ifndef DERPER_BASE_SCHED_SLICE_H
#define DERPER_BASE_SCHED_SLICE_H

#include <stdint.h>

enum { SCHED_SLICE_NS = 100000 };	/* the kernel's smallest: 0.1 ms */

/* 0, or -errno (a seccomp profile may refuse sched_setattr). */
int sched_slice_set(uint64_t ns);

#endif /* DERPER_BASE_SCHED_SLICE_H */
