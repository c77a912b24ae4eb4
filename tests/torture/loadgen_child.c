/* loadgen_child.c - the real load generator (build/loadgen/loadgen) as a child of a case.
 *
 * Why the loadgen and not the harness client: the signal and slow-client cases need steady load
 * with every response checked and latency percentiles, which is exactly what it does, while the
 * case itself is busy (sending signals, driving slow clients). It is found next to this binary
 * (build/tests/torture/torture -> build/loadgen/loadgen), started with PR_SET_PDEATHSIG and
 * registered with check.h, so a failing case never leaves it running.
 */
#include "torture.h"

#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* build/tests/torture/torture -> build/loadgen/loadgen */
static void loadgen_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = SYS(readlink("/proc/self/exe", self, sizeof self - 1));
	self[n] = '\0';
	char *dir = dirname(dirname(dirname(self)));
	snprintf(buf, len, "%s/loadgen/loadgen", dir);
	if (access(buf, X_OK) != 0)
		FAIL("no loadgen at %s: %s", buf, strerror(errno));
}

/* Start the loadgen on port; its stdout (the JSON) goes to json_path, stderr to /dev/null. */
pid_t loadgen_start(uint16_t port, const char *conns, const char *const *more,
			   const char *json_path)
{
	char exe[PATH_MAX], portbuf[16];
	loadgen_path(exe, sizeof exe);
	snprintf(portbuf, sizeof portbuf, "%u", port);
	const char *argv[24] = {exe, "--port", portbuf, "--connections", conns, "--json", json_path};
	size_t i = 7;
	for (size_t k = 0; more[k] != NULL && i < 23; k++)
		argv[i++] = more[k];
	argv[i] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = (pid_t)SYS(fork());
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent || null < 0 ||
		    dup2(null, STDERR_FILENO) == -1)
			_exit(127);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	check_register_pid(pid);
	return pid;
}

int loadgen_reap(pid_t pid, int timeout_ms)
{
	int status;
	int64_t deadline = deadline_in(timeout_ms);
	while (SYS(waitpid(pid, &status, WNOHANG)) == 0) {
		if (deadline_left(deadline) == 0)
			FAIL("the loadgen (pid %d) did not exit within %d ms", (int)pid, timeout_ms);
		sleep_ms(10);
	}
	check_unregister_pid(pid);
	return status;
}

char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		FAIL("fopen(%s): %s", path, strerror(errno));
	char *buf = xcalloc(1, 1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

uint64_t json_u64(const char *doc, const char *key)
{
	uint64_t v;
	if (json_get_u64(doc, key, &v) != JSON_OK)
		FAIL("loadgen JSON has no integer \"%s\": %.200s", key, doc);
	return v;
}

double json_latency_us(const char *doc, const char *pct)
{
	char key[32];
	snprintf(key, sizeof key, "\"%s\":", pct);
	const char *obj = strstr(doc, "\"latency_us\":{");
	const char *p = obj != NULL ? strstr(obj, key) : NULL;
	if (p == NULL)
		FAIL("loadgen JSON has no latency_us.%s: %.200s", pct, doc);
	return strtod(p + strlen(key), NULL);
}

double echo_capacity(uint16_t port, const char *dir, int conns)
{
	char json[160], nconns[16];
	snprintf(json, sizeof json, "%s/capacity.json", dir);
	snprintf(nconns, sizeof nconns, "%d", conns);
	static const char *const more[] = {"--size", "1", "--duration", "1s", "--warmup", "300ms",
					   NULL};
	pid_t lg = loadgen_start(port, nconns, more, json);
	int status = loadgen_reap(lg, 20000);
	char *doc = slurp(json);
	uint64_t reqs = json_u64(doc, "requests"), errs = json_u64(doc, "errors");
	const char *a = strstr(doc, "\"achieved_rps\":");
	double rps = a != NULL ? strtod(a + strlen("\"achieved_rps\":"), NULL) : 0;
	free(doc);
	SYS(unlink(json));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || errs != 0 || reqs == 0 || rps <= 0)
		FAIL("capacity probe: loadgen wait status 0x%x, %llu requests, %llu errors", status,
		     (unsigned long long)reqs, (unsigned long long)errs);
	return rps;
}
