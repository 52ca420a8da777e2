/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A hashed timing wheel (Varghese and Lauck, 1987) for the sessions of a
 * TLS thread: each session waits in the slot of its next deadline, so a
 * tick visits the sessions due then, not every session held. Nodes are
 * intrusive and re-armed lazily: a timer moved later stays where it is and
 * is looked at (and re-armed) when its old slot comes round; one moved
 * earlier is moved. Deadlines beyond one turn of the wheel wait in their
 * slot for later turns. Pure; one owner (the TLS thread).
 */
#ifndef DERPER_TLS_TIMER_WHEEL_H
#define DERPER_TLS_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

enum { TW_SLOTS = 512 };

struct tw_node {
	struct tw_node *prev, *next;
	uint64_t at_ms;			/* 0: not armed */
};

struct timer_wheel {
	uint64_t tick_ms;
	uint64_t done_tick;		/* every tick up to this one visited */
	struct tw_node *slots[TW_SLOTS];
	uint32_t nb_armed;
};

void tw_init(struct timer_wheel *w, uint64_t tick_ms, uint64_t now_ms);

/* Due at at_ms (> 0). A node armed for a later time is moved; one armed
 * for an earlier time stays (it will be looked at then). */
void tw_arm(struct timer_wheel *w, struct tw_node *n, uint64_t at_ms);

void tw_cancel(struct timer_wheel *w, struct tw_node *n);

/* Every node due by now_ms, unlinked and handed to fire() (which may arm it
 * again). Returns how many fired. */
unsigned int tw_advance(struct timer_wheel *w, uint64_t now_ms,
			void (*fire)(struct tw_node *n, void *arg), void *arg);

static inline bool
tw_armed(const struct tw_node *n)
{
	return n->at_ms != 0;
}

#endif /* DERPER_TLS_TIMER_WHEEL_H */
