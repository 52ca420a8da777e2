/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "control/signals.h"

static sigset_t handled;

int
ctl_signals_init(void)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	int rc;

	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGHUP);
	rc = pthread_sigmask(SIG_BLOCK, &handled, NULL);
	if (rc)
		return -rc;
	if (sigaction(SIGPIPE, &ign, NULL))
		return -errno;
	return 0;
}

enum ctl_signal
ctl_signals_wait(int timeout_ms)
{
	struct timespec ts = {.tv_sec = timeout_ms / 1000,
			      .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
	int sig = sigtimedwait(&handled, NULL, &ts);

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		return CTL_SIG_QUIT;
	case SIGHUP:
		return CTL_SIG_RELOAD;
	default:
		return CTL_SIG_NONE;
	}
}
