/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A session's outbound packet queues, exactly as derper (§6.3): two
 * bounded FIFOs, one for disco packets and one for everything else, each
 * `depth` deep. A full queue drops its oldest packet (head drop: stale
 * data first) to make room; the sender is never blocked. Pure (entries
 * are opaque pointers; the caller frees what is dropped).
 */
#ifndef DERPER_TLS_SEND_QUEUE_H
#define DERPER_TLS_SEND_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

enum sq_class {
	SQ_DATA,
	SQ_DISCO,
	SQ_NB_CLASSES,
};

struct send_queue {
	uint16_t depth;
	uint16_t head[SQ_NB_CLASSES];
	uint16_t count[SQ_NB_CLASSES];
	uint8_t next;		/* class served first next time (fairness) */
	void **slots;		/* SQ_NB_CLASSES * depth entries */
};

/* Allocate for `depth` entries per class. 0 or -ENOMEM. */
int sq_init(struct send_queue *q, uint16_t depth);

/* Free the slots array; the queue must be empty (see sq_pop). */
void sq_uninit(struct send_queue *q);

/*
 * Append `item` to `cls`. When full, the oldest entry is removed first
 * and returned (the caller frees it and counts a queue_head drop);
 * otherwise NULL.
 */
void *sq_push(struct send_queue *q, enum sq_class cls, void *item);

/*
 * Remove the next entry, alternating between the classes so that neither
 * starves the other (derper picks among ready queues in no fixed order).
 * NULL when both are empty.
 */
void *sq_pop(struct send_queue *q);

/*
 * Remove the oldest entry to make room under a byte budget: from the data
 * queue while it has any (disco packets are small and steer the path), then
 * from disco. NULL when both are empty.
 */
void *sq_drop_oldest(struct send_queue *q);

/* Whether a push to cls would drop its oldest entry. */
static inline bool
sq_full(const struct send_queue *q, enum sq_class cls)
{
	return q->count[cls] >= q->depth;
}

static inline unsigned int
sq_len(const struct send_queue *q)
{
	return (unsigned int)q->count[SQ_DATA] + q->count[SQ_DISCO];
}

#endif /* DERPER_TLS_SEND_QUEUE_H */
