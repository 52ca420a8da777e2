/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A token bucket on a millisecond clock: `rate` tokens per second up to
 * `burst`. A bucket that has never been used (zeroed) starts full. The
 * tokens may go negative (tb_debit: bytes already read beyond the bucket),
 * and the bucket then refuses until it has refilled above zero. Rate and
 * burst are passed on every call, so a reloaded limit applies at once.
 * One owner per bucket; pure and inline (new connections, a client's
 * bytes, NotHere replies).
 */
#ifndef DERPER_BASE_TOKEN_BUCKET_H
#define DERPER_BASE_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct token_bucket {
	double tokens;
	uint64_t last_ms;	/* 0: never used */
};

/* Add what `rate` earned since the last call, capped at `burst`; the
 * tokens now available. */
static inline double
tb_refill(struct token_bucket *b, double rate, double burst, uint64_t now_ms)
{
	if (!b->last_ms) {
		b->tokens = burst;
	} else if (now_ms > b->last_ms) {
		b->tokens += rate * (double)(now_ms - b->last_ms) / 1000.0;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->last_ms = now_ms;
	return b->tokens;
}

/* Take `n` tokens if that many are there. */
static inline bool
tb_take(struct token_bucket *b, double rate, double burst, uint64_t now_ms,
	double n)
{
	if (tb_refill(b, rate, burst, now_ms) < n)
		return false;
	b->tokens -= n;
	return true;
}

/* Spend n tokens the owner has already used (may go below zero); a
 * bucket never refilled is left alone. */
static inline void
tb_debit(struct token_bucket *b, double n)
{
	if (b->last_ms)
		b->tokens -= n;
}

/* Milliseconds until the bucket is above zero again (0 if it is). */
static inline uint64_t
tb_wait_ms(const struct token_bucket *b, double rate)
{
	return b->tokens > 0 || rate <= 0 ? 0 : (uint64_t)(-b->tokens * 1000.0 / rate) + 1;
}

#endif /* DERPER_BASE_TOKEN_BUCKET_H */
