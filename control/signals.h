/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Signals are handled synchronously by the control thread: they are
 * blocked in every thread (the mask is set before EAL and the TLS threads
 * are created, so they inherit it) and collected with sigtimedwait().
 * SIGPIPE is ignored process-wide: a peer closing mid-write is an error
 * return, not a death.
 */
#ifndef DERPER_CONTROL_SIGNALS_H
#define DERPER_CONTROL_SIGNALS_H

enum ctl_signal {
	CTL_SIG_NONE,		/* timeout */
	CTL_SIG_QUIT,		/* SIGTERM or SIGINT: drain and exit 0 */
	CTL_SIG_RELOAD,		/* SIGHUP: reload configuration */
};

/* Block SIGTERM, SIGINT and SIGHUP in the calling thread; ignore SIGPIPE.
 * Call before creating any thread. Returns 0 or -errno. */
int ctl_signals_init(void);

/* Wait up to timeout_ms for one of the blocked signals. Main thread. */
enum ctl_signal ctl_signals_wait(int timeout_ms);

#endif /* DERPER_CONTROL_SIGNALS_H */
