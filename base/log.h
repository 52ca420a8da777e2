/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One line per event, in logfmt, to stderr:
 *
 *   ts=2026-11-26T12:00:00.123Z level=info msg="tls listening" addr=[::]:443
 *
 * Callable from any thread: each line is formatted into a local buffer and
 * written with a single write(2). Never call it per packet; the data path
 * counts instead.
 */
#ifndef DERPER_BASE_LOG_H
#define DERPER_BASE_LOG_H

/* Severities, most severe first (config's log.level uses the same values). */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Set the threshold (enum log_level); lines above it are dropped. */
void log_set_level(int level);

/*
 * Log `msg` (a constant: it is also the rate-limit key) followed by
 * `fmt`, which supplies more key=value pairs ("addr=%s port=%u"). At most
 * log_write's burst of lines per message per second get through; the
 * number suppressed is reported on the next line that passes.
 */
void log_write(int level, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define LOG_ERR(msg, ...) log_write(LOG_LEVEL_ERROR, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...) log_write(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...) log_write(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define LOG_DEBUG(msg, ...) log_write(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)

#endif /* DERPER_BASE_LOG_H */
