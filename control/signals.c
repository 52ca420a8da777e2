/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "control/signals.h"

static sigset_t handled;

/* The real-time signals are ours, so DPDK's net_tap finds none free and
 * leaves its Rx "trigger" off ("No Rx trigger signal available"). With it
 * on, the tap fd is O_ASYNC with a queued real-time signal: the kernel
 * signals the process for every frame it writes into the exception
 * interface, which cost the poll loop a signal delivery per frame and
 * ended the control loop's wait as often. Without it the tap queue is
 * read with readv() when polled, as any other PMD. Nothing sends these
 * signals once they are taken; a handler, not SIG_IGN, so that nothing is
 * inherited across exec. */
static void
rt_reserved(int sig)
{
	(void)sig;
}

int
ctl_signals_init(void)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	struct sigaction rt = {.sa_handler = rt_reserved, .sa_flags = SA_RESTART};
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
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigaction(sig, &rt, NULL))
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
