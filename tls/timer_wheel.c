/* SPDX-License-Identifier: BSD-3-Clause */
/* Hashed timing wheel; see timer_wheel.h. */
#include <string.h>

#include "tls/timer_wheel.h"

void
tw_init(struct timer_wheel *w, uint64_t tick_ms, uint64_t now_ms)
{
	memset(w, 0, sizeof(*w));
	w->tick_ms = tick_ms;
	w->done_tick = now_ms / tick_ms;
}

static void
link_in(struct timer_wheel *w, struct tw_node *n, uint64_t at_ms)
{
	struct tw_node **head = &w->slots[(at_ms / w->tick_ms) % TW_SLOTS];

	n->at_ms = at_ms;
	n->prev = NULL;
	n->next = *head;
	if (*head)
		(*head)->prev = n;
	*head = n;
	w->nb_armed++;
}

static void
unlink_node(struct timer_wheel *w, struct tw_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		w->slots[(n->at_ms / w->tick_ms) % TW_SLOTS] = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->prev = n->next = NULL;
	n->at_ms = 0;
	w->nb_armed--;
}

void
tw_arm(struct timer_wheel *w, struct tw_node *n, uint64_t at_ms)
{
	/* a tick already visited is visited again at the next advance */
	if (at_ms / w->tick_ms <= w->done_tick)
		at_ms = (w->done_tick + 1) * w->tick_ms;
	if (tw_armed(n)) {
		if (n->at_ms <= at_ms)
			return;		/* looked at earlier anyway: lazy */
		unlink_node(w, n);
	}
	link_in(w, n, at_ms);
}

void
tw_cancel(struct timer_wheel *w, struct tw_node *n)
{
	if (tw_armed(n))
		unlink_node(w, n);
}

unsigned int
tw_advance(struct timer_wheel *w, uint64_t now_ms,
	   void (*fire)(struct tw_node *n, void *arg), void *arg)
{
	uint64_t now_tick = now_ms / w->tick_ms, tick = w->done_tick;
	unsigned int fired = 0;

	/* after a long sleep, one turn visits every slot once */
	if (now_tick - tick > TW_SLOTS)
		tick = now_tick - TW_SLOTS;
	while (tick < now_tick) {
		struct tw_node *n = w->slots[++tick % TW_SLOTS], *next;

		w->done_tick = tick;
		for (; n; n = next) {
			next = n->next;
			if (n->at_ms / w->tick_ms > tick)
				continue;	/* a later turn */
			unlink_node(w, n);
			fire(n, arg);
			fired++;
		}
	}
	w->done_tick = now_tick;
	return fired;
}
