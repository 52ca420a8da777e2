/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef DERPER_DATAPLANE_MAIN_LOOP_H
#define DERPER_DATAPLANE_MAIN_LOOP_H

/*
 * The poll loop of one dataplane lcore (lcore_function_t; arg is its
 * struct dp_lcore). Returns 0 when `quit` is set.
 */
int dp_main_loop(void *arg);

#endif /* DERPER_DATAPLANE_MAIN_LOOP_H */
