/* signals.c - stop and snapshot signals, in the three styles described in signals.h. */
#include "signals.h"

#include "stats.h"
#include "sys.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested, snapshot_requested;
static sigset_t handled;
static int sigfd = -1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		snapshot_requested = 1;
	else
		stop_requested = 1;
}

static _Noreturn void die(const char *what, int err)
{
	fprintf(stderr, "muxbench: %s: %s\n", what, strerror(err));
	exit(1);
}

static void *signal_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int sig = sigwaitinfo(&handled, NULL);
		if (sig == SIGUSR1) {
			stats_write("snapshot");
		} else if (sig > 0) {
			stats_write("final");
			_exit(0); /* the connection threads hold nothing that needs cleaning up */
		} else if (errno != EINTR) {
			die("sigwaitinfo", errno);
		}
	}
	return NULL;
}

void signals_init(enum signal_style style)
{
	struct sigaction sa = {.sa_handler = SIG_IGN};
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		die("sigaction SIGPIPE", errno);

	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGUSR1);

	if (style == SIGNALS_THREAD) {
		int err = pthread_sigmask(SIG_BLOCK, &handled, NULL); /* inherited by every thread */
		pthread_t t;
		if (!err)
			err = pthread_create(&t, NULL, signal_thread, NULL);
		if (!err)
			err = pthread_detach(t);
		if (err)
			die("signal thread", err);
		/* Among thousands of runnable connection threads, a normal one waits its turn for
		 * hundreds of milliseconds, and the window's snapshot with it. A real-time thread
		 * that only ever wakes for a signal runs at once. Needs CAP_SYS_NICE (root): without
		 * it the snapshot may be late, which bench/run reports as the counts disagreeing. */
		struct sched_param sp = {.sched_priority = 1};
		pthread_setschedparam(t, SCHED_FIFO, &sp);
		return;
	}

	if (style == SIGNALS_FD) {
		int err = pthread_sigmask(SIG_BLOCK, &handled, NULL);
		if (err)
			die("pthread_sigmask", err);
		if ((sigfd = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
			die("signalfd", errno);
		return;
	}

	/* SIGNALS_POLLED: nothing ever sleeps, so handlers setting flags are enough. */
	sa = (struct sigaction){.sa_handler = on_signal};
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction", errno);
}

int signals_fd(void)
{
	return sigfd;
}

void signals_on_readable(void)
{
	struct signalfd_siginfo si[4];
	ssize_t n;
	while ((n = sys_read(sigfd, si, sizeof si)) > 0)
		for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++)
			on_signal((int)si[i].ssi_signo);
}

bool server_running(void)
{
	if (snapshot_requested) {
		snapshot_requested = 0;
		stats_write("snapshot");
	}
	return !stop_requested;
}

bool signals_take_snapshot(void)
{
	bool asked = snapshot_requested;
	snapshot_requested = 0;
	return asked;
}

bool signals_stop_requested(void)
{
	return stop_requested;
}
