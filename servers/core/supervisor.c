/* supervisor.c - fork P workers, watch their pidfds, reap them (see supervisor.h). */
#include "supervisor.h"

#include "control.h"
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long the workers get to exit once told to stop before they are killed. */
#define STOP_TIMEOUT_MS 5000

static const struct server_config *config;

static _Noreturn void worker(const struct supervisor_plan *plan, size_t w, pid_t supervisor)
{
	/* Die with the supervisor: a worker left behind would hold the port and its connections. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != supervisor)
		_exit(1);
	close(signals_fd()); /* the supervisor alone takes the signals */
	STAT_ADD(threads, 1); /* this process's main thread, which runs its first loop */
	plan->worker(w);
	/* No conn_close_all(): the supervisor writes the final line once every worker is gone, and
	 * closing thousands of connections here would only change the counts it is about to read.
	 * exit() closes the fds; the connections stay reachable, so LeakSanitizer has nothing to say. */
	exit(0);
}

static void describe_exit(size_t w, pid_t pid, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "echo-%s: worker %zu (pid %d) exited with status %d\n", config->name, w,
			(int)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "echo-%s: worker %zu (pid %d) killed by signal %d (%s)\n", config->name,
			w, (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* Reap every worker: their resource usage goes into their slots, for the final line. Those
 * that have not exited by the deadline are killed. True if all exited with status 0. */
static bool reap(const pid_t *pids, struct pollfd *pfds, size_t n, int64_t deadline)
{
	const struct counters *c = counters_get();
	bool ok = true;
	for (size_t w = 0; w < n; w++) {
		int left = (int)(deadline - control_now_ms());
		int r = sys_poll_ms(&pfds[w], 1, left > 0 ? left : 0);
		if (r < 0)
			fatal_errno("poll");
		if (r == 0) {
			fprintf(stderr, "echo-%s: worker %zu (pid %d) did not stop: killing it\n",
				config->name, w, (int)pids[w]);
			kill(pids[w], SIGKILL);
		}
		int status;
		struct rusage ru;
		while (wait4(pids[w], &status, 0, &ru) < 0)
			if (errno != EINTR)
				fatal_errno("wait4");
		counters_record_usage(&c->workers[w], &ru);
		close(pfds[w].fd);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			describe_exit(w, pids[w], status);
			ok = false;
		}
	}
	return ok;
}

int supervisor_run(const struct server_config *cfg, const struct supervisor_plan *plan)
{
	config = cfg;
	size_t n = plan->workers;
	pid_t pids[COUNTERS_MAX_LOOPS], supervisor = getpid();
	struct pollfd pfds[COUNTERS_MAX_LOOPS];
	fflush(stdout); /* nothing buffered may be written twice */
	fflush(stderr);
	for (size_t w = 0; w < n; w++) {
		pid_t pid = fork();
		if (pid < 0) {
			int err = errno;
			for (size_t k = 0; k < w; k++)
				kill(pids[k], SIGKILL); /* they die with us anyway (PDEATHSIG) */
			errno = err;
			fatal_errno("fork");
		}
		if (pid == 0)
			worker(plan, w, supervisor);
		pids[w] = pid;
		pfds[w] = (struct pollfd){.fd = pidfd_open(pid, 0), .events = POLLIN};
		if (pfds[w].fd < 0)
			fatal_errno("pidfd_open");
	}
	bool stopped = control_announce(plan->lis_fd, pfds, n);
	plan->handed_over();
	stopped = stopped && control_run(pfds, n);
	if (stopped) {
		control_stop();
	} else {
		fprintf(stderr, "echo-%s: a worker died: stopping the others\n", cfg->name);
		for (size_t w = 0; w < n; w++)
			kill(pids[w], SIGKILL);
	}
	bool clean = reap(pids, pfds, n, control_now_ms() + STOP_TIMEOUT_MS);
	if (!stopped || !clean)
		return 1; /* no final line: the run failed */
	stats_write("final");
	return 0;
}
