/* cases_signals.c - signals under load: SIGUSR1 storms, SIGTERM, and SIGPIPE.
 *
 * usr1_storm: the loadgen (build/loadgen/loadgen, every response checked byte for byte, each
 * request timed out after 10 s) sends 10k requests/s (or a tenth of the machine's capacity, if
 * that is less: echo_capacity()) for 3 s over 50 connections while the
 * server gets SIGUSR1 every 10 ms (300 snapshots; each signal once the last was answered, since
 * a SIGUSR1 sent while one is pending merges with it). An interrupted syscall (EINTR) that a loop
 * mishandles shows up as a lost or stuck request. Judged: the loadgen exits 0 with no error and
 * nothing incomplete, the server echoed (bytes_out) at least what the loadgen counted, and every
 * snapshot was written.
 *
 * sigterm: SIGTERM while the loadgen drives a closed loop on 50 connections: the server exits 0
 * within 2 s, with a "final" stats line as the last line of its stats file.
 *
 * sigpipe: 5 times, 200 clients send 256 KiB each and reset (SO_LINGER 0) without reading
 * (the server sees ECONNRESET), then one client resets while the server is in CLOSE_WAIT with
 * output owed (it sees EPIPE: an RST after the peer's FIN is reported so, and write() then raises
 * SIGPIPE unless it is ignored; the harness starts servers with SIGPIPE at its default, so dying
 * of it is the server's own doing). Judged: alive after each wave, and a normal client served.
 * With SIGPIPE left at its default in servers/core/signals.c, every server built on it died of
 * signal 13 here (blocking, busypoll, select, poll, epoll, epoll --edge); echo-uring did not:
 * it sends with MSG_NOSIGNAL, which never raises SIGPIPE (libuv ignores SIGPIPE on its own).
 *
 * blocking-iterative serves one connection at a time: it gets 1 loadgen connection instead of 50
 * and its 200 resetting clients in waves of 20.
 */
#include "torture.h"

#include "json.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

void case_usr1_storm(const struct target *t)
{
	bool iter = t->caps.serial;
	struct run r;
	run_start(&r, t, NULL);
	char json[160];
	snprintf(json, sizeof json, "%s/loadgen.json", r.s.dir);
	/* At most 10k req/s, and at most a tenth of what the machine does: the case is about
	 * signals arriving mid-request, not about a rate this machine may not have. */
	double cap = echo_capacity(r.s.port, r.s.dir, iter ? 1 : 50);
	char rate[16];
	snprintf(rate, sizeof rate, "%d", cap / 10 < 10000 ? (int)(cap / 10) + 1 : 10000);
	const char *const more[] = {"--rate", rate, "--duration", "3s", "--warmup", "0", NULL};
	pid_t lg = loadgen_start(r.s.port, iter ? "1" : "50", more, json);
	/* About 300 signals, one every 10 ms, for as long as the loadgen runs. */
	int sent = 0;
	int64_t next = now_ms();
	int status = 0;
	for (;;) {
		pid_t got = (pid_t)SYS(waitpid(lg, &status, WNOHANG));
		if (got == lg)
			break;
		if (sent > 1000)
			FAIL("the loadgen ran for more than 10 s of SIGUSR1s");
		/* Each signal once the previous one was answered, 10 ms apart at the most: a SIGUSR1
		 * sent while one is pending merges with it (standard signals do not queue), so on a
		 * slow or throttled machine a fixed 100/s made fewer snapshots than signals with no
		 * fault in the server (busypoll under a 0.4-CPU quota: 219 lines for 302 signals). */
		struct stat st0, st1;
		SYS(stat(r.s.stats_path, &st0));
		server_signal(&r.s, SIGUSR1);
		sent++;
		for (int64_t until = deadline_in(5000);;) {
			SYS(stat(r.s.stats_path, &st1));
			if (st1.st_size > st0.st_size)
				break;
			if (deadline_left(until) == 0)
				FAIL("no stats line within 5 s of SIGUSR1 #%d", sent);
			sleep_ms(1);
		}
		next += 10;
		if (deadline_left(next) > 0)
			sleep_ms(deadline_left(next));
		else
			next = now_ms();
	}
	check_unregister_pid(lg);
	server_assert_alive(&r.s, "after the SIGUSR1 storm");
	char *doc = slurp(json);
	uint64_t reqs = json_u64(doc, "requests"), errs = json_u64(doc, "errors");
	uint64_t lg_out = json_u64(doc, "bytes_out");
	bool incomplete = strstr(doc, "\"incomplete\":false") == NULL;
	free(doc);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || errs != 0 || incomplete)
		FAIL("loadgen under %d SIGUSR1s: wait status 0x%x, %llu errors, incomplete %d", sent,
		     status, (unsigned long long)errs, incomplete);
	char *snap = server_snapshot(&r.s);
	uint64_t in = stats_u64(snap, "bytes_in"), out = stats_u64(snap, "bytes_out");
	free(snap);
	/* The loadgen may abandon a request sent after its window closed (the server then reads it
	 * but cannot write the echo back to a closed socket), so in >= out, not ==; what it counted
	 * in its window must all have gone both ways. */
	if (out < lg_out || in < out)
		FAIL("server bytes_in %llu, bytes_out %llu, the loadgen sent %llu", (unsigned long long)in,
		     (unsigned long long)out, (unsigned long long)lg_out);
	struct stats_lines l;
	stats_read(&r.s, &l);
	size_t lines = l.n;
	stats_free(&l);
	SYS(unlink(json));
	if (lines < (size_t)sent)
		FAIL("%d SIGUSR1s but %zu stats lines", sent, lines);
	run_figure(&r, "%d SIGUSR1 at 100/s; %s req/s (capacity %.0f); %llu requests, 0 errors; "
		   "echoed %llu B >= %llu B sent; %zu snapshots",
		   sent, rate, cap, (unsigned long long)reqs, (unsigned long long)out,
		   (unsigned long long)lg_out, lines);
	run_finish(&r, "usr1_storm", t);
}

void case_sigterm(const struct target *t)
{
	bool iter = t->caps.serial;
	struct run r;
	run_start(&r, t, NULL);
	char json[160];
	snprintf(json, sizeof json, "%s/loadgen.json", r.s.dir);
	static const char *const more[] = {"--duration", "20s", "--warmup", "0", NULL};
	pid_t lg = loadgen_start(r.s.port, iter ? "1" : "50", more, json);
	sleep_ms(1000); /* full load by now */
	double cpu = cpu_pct_since(r.s.pid, r.cpu0, r.t0);
	int64_t t0 = now_ms();
	server_terminate(&r.s, 2000); /* exit status 0 within 2 s, nothing more on stdout */
	int64_t ms = now_ms() - t0;
	struct stats_lines l;
	stats_read(&r.s, &l);
	char type[32] = "";
	if (l.n == 0 || json_get_str(l.line[l.n - 1], "type", type, sizeof type) != JSON_OK ||
	    strcmp(type, "final") != 0)
		FAIL("the last stats line after SIGTERM is not \"final\" (%zu lines, last type "
		     "\"%s\")",
		     l.n, type);
	uint64_t reqs = stats_u64(l.line[l.n - 1], "requests");
	stats_free(&l);
	SYS(kill(lg, SIGKILL));
	loadgen_reap(lg, 5000);
	if (unlink(json) == -1 && errno != ENOENT)
		FAIL("unlink(%s): %s", json, strerror(errno));
	server_cleanup(&r.s);
	printf("PASS sigterm/%s exit 0 in %lld ms <= 2000 ms under load (cpu %.0f%%); final line, "
	       "%llu requests; alive until then\n",
	       t->name, (long long)ms, cpu, (unsigned long long)reqs);
}

/* One connection that leaves the server in CLOSE_WAIT with output owed, then resets it.
 *  1. With small buffers on our side, echo 8 MiB (the server's send buffer autotunes to its
 *     largest), then write 64 KiB at a time, never reading, until the server
 *     holds output it cannot write: its bytes_in - bytes_out has grown and stays put for 50 ms
 *     while we send nothing (a server merely between a read and its write would have moved).
 *     Its send buffer is full and it has stopped reading (an event loop at its --buffer cap, a
 *     thread blocked in write()).
 *  2. Send our FIN: the server's TCP takes it (we see FIN_WAIT2), so it is in CLOSE_WAIT, and
 *     it still owes output (checked again).
 *  3. Reset. An RST in CLOSE_WAIT is reported as EPIPE, and the write the server makes next
 *     (an event loop on the error event, a thread in its blocked write) raises SIGPIPE unless
 *     it is ignored. Both premises are checked, so the case cannot pass by missing the point. */
/* False when the premise did not hold (the server's output went out after all): try again. */
static bool reset_in_close_wait(struct server *s, uint32_t id, bool zc)
{
	/* A --zc server holds what it sent until our ACK, which Linux may delay by up to 200 ms
	 * (TCP_DELACK_MAX): for it, stuck is put for longer than that. And it echoes one --buffer
	 * per round trip, so its receive buffer never autotunes past its first 128 KiB: a 64 KiB
	 * step after it stopped reading would close its window, and a FIN meeting a zero window is
	 * dropped. */
	const int settle_ms = zc ? 300 : 50;
	const uint64_t step_bytes = zc ? 16 * KiB : 64 * KiB;
	struct conn c;
	conn_open_buf(&c, s->port, id, 64 * KiB, deadline_in(5000));
	/* First a normal 8 MiB echo, so the server's send buffer has autotuned to its largest:
	 * one that could still grow would take more output later and finish its write. */
	echo_round(&c, 1, 8 * MiB, 0, deadline_in(10000));
	int64_t base = server_held(s), deadline = deadline_in(10000), owed = 0;
	for (;;) {
		/* A step at a time, then look: once the server stops reading, at most that much more
		 * lands in its receive buffer, which leaves room there for our FIN. */
		uint64_t step = c.tx + step_bytes;
		while (c.tx < step) {
			struct pollfd pfd = {.fd = c.fd, .events = POLLOUT};
			int rc = poll(&pfd, 1, deadline_left(deadline));
			if (rc == -1 && errno == EINTR)
				continue;
			if (SYS(rc) == 0)
				break;
			conn_pump_write(&c, step);
		}
		sleep_ms(2);
		if (deadline_left(deadline) == 0)
			FAIL("conn #%u: the server never held output (%llu bytes sent)", id,
			     (unsigned long long)c.tx);
		owed = server_held(s) - base;
		if (owed <= 0)
			continue;
		/* Holding, or just between a read and its write? Stuck if it stays put while we
		 * send nothing. */
		sleep_ms(settle_ms);
		if (server_held(s) - base == owed)
			break;
	}
	SYS(shutdown(c.fd, SHUT_WR));
	struct tcp_info ti;
	for (int64_t until = deadline_in(3000);;) {
		socklen_t len = sizeof ti;
		SYS(getsockopt(c.fd, IPPROTO_TCP, TCP_INFO, &ti, &len));
		if (ti.tcpi_state == TCP_FIN_WAIT2)
			break;
		if (deadline_left(until) == 0)
			FAIL("conn #%u: the server's TCP never took our FIN (our state %u)", id,
			     ti.tcpi_state);
		sleep_ms(10);
	}
	int64_t still = server_held(s) - base;
	if (still <= 0) {
		/* It stayed put for settle_ms and then went on: a server slowed down (a throttled core)
		 * can pause that long mid-write. Not the state this is for; the caller tries again. */
		note("conn #%u: in CLOSE_WAIT the server owes nothing any more (held %lld, %lld before "
		     "our FIN): again",
		     id, (long long)still, (long long)owed);
		conn_reset(&c);
		return false;
	}
	conn_reset(&c);
	note("reset in CLOSE_WAIT: the server owed %lld bytes", (long long)owed);
	return true;
}

void case_sigpipe(const struct target *t)
{
	bool iter = t->caps.serial;
	const size_t n = iter ? 20 : 200;
	const bool zc = spec_applies("zero_copy", &t->caps);
	struct run r;
	run_start(&r, t, NULL);
	struct conn *c = xcalloc(n, sizeof *c);
	for (int wave = 0; wave < 5; wave++) {
		/* Clients that reset while the server is writing to them (ECONNRESET on its side). */
		conn_open_many(c, n, r.s.port, (uint32_t)(wave * 1000), deadline_in(10000));
		for (size_t i = 0; i < n; i++)
			conn_pump_write(&c[i], 256 * KiB);
		sleep_ms(iter ? 200 : 50); /* let it echo into them */
		for (size_t i = 0; i < n; i++)
			conn_reset(&c[i]);
		/* And one that leaves it in CLOSE_WAIT first (EPIPE: SIGPIPE unless ignored), once
		 * the server is done with the others, so that what it holds is this one's. */
		if (server_wait_stat(&r.s, "conns", 0, 10000) != 0)
			FAIL("the server still counts connections 10 s after they all reset");
		int tries = 0;
		while (!reset_in_close_wait(&r.s, 100000 + 10 * (uint32_t)wave + (uint32_t)tries,
					    zc))
			if (++tries == 5)
				FAIL("wave %d: 5 tries, and the server never still owed output in CLOSE_WAIT",
				     wave);
		sleep_ms(100);
		server_assert_alive(&r.s, "after clients reset mid-echo");
	}
	free(c);
	normal_client(&r.s, 200000, "after the resets");
	char *snap = server_snapshot(&r.s);
	uint64_t resets = stats_u64(snap, "resets");
	free(snap);
	run_figure(&r, "5 x (%zu reset mid-echo + 1 reset in CLOSE_WAIT); server counted %llu resets",
		   n, (unsigned long long)resets);
	run_finish(&r, "sigpipe", t);
}
