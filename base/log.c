/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rate limiting is per message string (its address), in a small fixed
 * table: a message that fires more than LOG_BURST times in one second is
 * suppressed until the next second, and the count of suppressed lines is
 * appended to the next line for it that passes. Slots are claimed with a
 * compare-and-swap, so no lock is taken; a message that finds the table
 * full is simply not limited.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

enum { LOG_SLOTS = 256, LOG_BURST = 20, LOG_LINE = 2048 };

struct log_slot {
	_Atomic(const char *) msg;
	_Atomic uint64_t second;
	_Atomic uint32_t count;
	_Atomic uint32_t suppressed;
};

static _Atomic int log_level = LOG_LEVEL_INFO;
static struct log_slot slots[LOG_SLOTS];

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

static struct log_slot *
slot_for(const char *msg)
{
	size_t h = ((uintptr_t)msg >> 4) % LOG_SLOTS;

	for (size_t i = 0; i < 8; i++) {
		struct log_slot *s = &slots[(h + i) % LOG_SLOTS];
		const char *cur = atomic_load(&s->msg);

		if (cur == msg)
			return s;
		if (cur == NULL &&
		    (atomic_compare_exchange_strong(&s->msg, &cur, msg) ||
		     cur == msg))
			return s;
	}
	return NULL;
}

/* Returns false when the line must be dropped; *suppressed gets the count
 * of lines dropped before this one. */
static bool
admit(const char *msg, uint64_t second, uint32_t *suppressed)
{
	struct log_slot *s = slot_for(msg);

	*suppressed = 0;
	if (!s)
		return true;
	if (atomic_exchange(&s->second, second) != second) {
		atomic_store(&s->count, 0);
		*suppressed = atomic_exchange(&s->suppressed, 0);
	}
	if (atomic_fetch_add(&s->count, 1) >= LOG_BURST) {
		atomic_fetch_add(&s->suppressed, 1);
		return false;
	}
	return true;
}

void
log_write(int level, const char *msg, const char *fmt, ...)
{
	char line[LOG_LINE];
	struct timespec ts;
	struct tm tm;
	uint32_t suppressed;
	size_t n;
	va_list ap;

	if (level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!admit(msg, (uint64_t)ts.tv_sec, &suppressed))
		return;
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
			      ".%03ldZ level=%s msg=\"%s\"",
			      ts.tv_nsec / 1000000L, level_names[level], msg);
	if (fmt && *fmt && n < sizeof(line) - 1) {
		line[n++] = ' ';
		va_start(ap, fmt);
		n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	if (suppressed && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      " suppressed=%u", suppressed);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}
