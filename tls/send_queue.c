/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>

#include "tls/send_queue.h"

int
sq_init(struct send_queue *q, uint16_t depth)
{
	q->depth = depth;
	q->head[0] = q->head[1] = 0;
	q->count[0] = q->count[1] = 0;
	q->next = 0;
	q->slots = calloc((size_t)SQ_NB_CLASSES * depth, sizeof(void *));
	return q->slots ? 0 : -ENOMEM;
}

void
sq_uninit(struct send_queue *q)
{
	free(q->slots);
	q->slots = NULL;
}

static void **
slot(struct send_queue *q, enum sq_class cls, unsigned int i)
{
	return &q->slots[(size_t)cls * q->depth + (q->head[cls] + i) % q->depth];
}

void *
sq_push(struct send_queue *q, enum sq_class cls, void *item)
{
	void *dropped = NULL;

	if (q->count[cls] == q->depth) {
		dropped = *slot(q, cls, 0);
		q->head[cls] = (uint16_t)((q->head[cls] + 1) % q->depth);
		q->count[cls]--;
	}
	*slot(q, cls, q->count[cls]) = item;
	q->count[cls]++;
	return dropped;
}

void *
sq_drop_oldest(struct send_queue *q)
{
	enum sq_class cls = q->count[SQ_DATA] ? SQ_DATA : SQ_DISCO;
	void *item;

	if (q->count[cls] == 0)
		return NULL;
	item = *slot(q, cls, 0);
	q->head[cls] = (uint16_t)((q->head[cls] + 1) % q->depth);
	q->count[cls]--;
	return item;
}

void *
sq_pop(struct send_queue *q)
{
	for (int k = 0; k < SQ_NB_CLASSES; k++) {
		enum sq_class cls = (enum sq_class)((q->next + k) % SQ_NB_CLASSES);
		void *item;

		if (q->count[cls] == 0)
			continue;
		item = *slot(q, cls, 0);
		q->head[cls] = (uint16_t)((q->head[cls] + 1) % q->depth);
		q->count[cls]--;
		q->next = (uint8_t)((cls + 1) % SQ_NB_CLASSES);
		return item;
	}
	return NULL;
}
