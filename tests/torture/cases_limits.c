/* cases_limits.c - limits: the security defaults, checked from outside the server.
 *
 * A benchmark server started by hand should not be reachable from the network, and it should
 * not let a crowd of clients take more than it was told to hold. Judged:
 *  - default bind: with no --bind, the kernel's own socket table (/proc/net/tcp) shows the
 *    listening socket on 127.0.0.1 only (the ready line alone could lie);
 *  - --bind 0.0.0.0: the socket is on the wildcard, and the server says so on stderr with a
 *    warning naming the address (the integration test bind_any checks the same per build);
 *  - --max-conns 20 against a burst of 60 connections: each either served (its byte echoed) or
 *    closed by the server (EOF or RST); at most 20 served (plus loops - 1 for a server with two
 *    loops, whose admission checks race, see servers/core/runtime.h); every refusal counted in
 *    rejected_max_conns; the served ones echo 64 KiB each; and once they leave, 20 new clients
 *    are all served.
 * Per-connection memory without bound is judged elsewhere: never_read (output held per stalled
 * client) and odd_sizes (a 16 MiB write must not be buffered whole).
 *
 * A serial server (blocking-iterative) is n/a: it holds one connection and leaves the rest in the
 * listen backlog, so --max-conns never sees a crowd (the bind checks pass for it in bind_any).
 */
#include "torture.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_MAX 20
#define LIMIT_BURST 60

/* The local address of the listening TCP socket on `port` in this network namespace, as the
 * kernel's table shows it (host order), or fails if there is none. */
static uint32_t listen_addr(uint16_t port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	if (f == NULL)
		FAIL("/proc/net/tcp: cannot open");
	char line[256];
	uint32_t found = 0;
	bool any = false;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned addr, lport, state;
		/* "  sl  local_address rem_address   st ...": addr in network order, as hex */
		if (sscanf(line, " %*u: %8x:%4x %*8x:%*4x %2x", &addr, &lport, &state) != 3)
			continue;
		if (lport == port && state == 0x0A /* TCP_LISTEN */) {
			found = ntohl(addr);
			any = true;
		}
	}
	fclose(f);
	if (!any)
		FAIL("no listening socket on port %u in /proc/net/tcp", port);
	return found;
}

static const char *addr_str(uint32_t host_order, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = {.s_addr = htonl(host_order)};
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* --bind 0.0.0.0: on the wildcard, with the warning. */
static void check_bind_any(const struct target *t, struct run *r)
{
	static const char *const more[] = {"--bind", "0.0.0.0", NULL};
	struct server_opts o = {.more_args = more, .capture_stderr = true, .ready_addr = "0.0.0.0"};
	struct server s;
	server_start(&s, t, &o);
	char buf[INET_ADDRSTRLEN];
	uint32_t a = listen_addr(s.port);
	if (a != INADDR_ANY)
		FAIL("--bind 0.0.0.0 listens on %s", addr_str(a, buf));
	normal_client(&s, 1, "bound to 0.0.0.0 (through loopback)");
	server_terminate(&s, 5000);
	char *err = server_drain(s.err_fd, deadline_in(2000), NULL);
	static const char warning[] = "warning: listening on 0.0.0.0, not a loopback address";
	if (strstr(err, warning) == NULL)
		FAIL("--bind 0.0.0.0: no \"%s\" on stderr (got \"%s\")", warning, err);
	free(err);
	server_cleanup(&s);
	run_figure(r, "--bind 0.0.0.0: on 0.0.0.0, warned");
}

void case_limits(const struct target *t)
{
	if (t->caps.serial)
		NA("holds one connection, the rest wait in the backlog: --max-conns never sees a crowd");
	static const char *const more[] = {"--max-conns", STR(LIMIT_MAX), NULL};
	struct server_opts o = {.more_args = more};
	struct run r;
	run_start(&r, t, &o);

	char buf[INET_ADDRSTRLEN];
	uint32_t a = listen_addr(r.s.port);
	if (a != INADDR_LOOPBACK)
		FAIL("with no --bind the server listens on %s, not 127.0.0.1", addr_str(a, buf));
	run_figure(&r, "default bind 127.0.0.1 (kernel table)");

	/* The burst: all 60 established by the kernel before the server accepts any. */
	/* One more per extra loop: the loops' admission checks race. */
	const size_t slack = t->caps.loops > 1 ? (size_t)t->caps.loops - 1 : 0;
	struct conn c[LIMIT_BURST];
	conn_open_many(c, LIMIT_BURST, r.s.port, 1, deadline_in(10000));
	size_t served = 0, refused = 0;
	struct conn *ok[LIMIT_BURST];
	for (size_t i = 0; i < LIMIT_BURST; i++) {
		if (conn_pump_write(&c[i], 1) != 1)
			FAIL("conn #%u: its 1-byte probe did not go out", c[i].id);
	}
	int64_t deadline = deadline_in(5000);
	for (size_t i = 0; i < LIMIT_BURST; i++) {
		size_t got = 0;
		enum closed_how how = conn_wait_closed(&c[i], deadline, &got);
		if (got > 0)
			ok[served++] = &c[i];
		else if (how == CLOSED_EOF || how == CLOSED_RESET)
			refused++;
		else
			FAIL("conn #%u: neither served nor closed within 5 s", c[i].id);
	}
	uint64_t counted = server_wait_stat(&r.s, "rejected_max_conns", refused, 5000);
	run_figure(&r, "--max-conns %d vs a burst of %d: %zu served, %zu closed, %llu counted",
		   LIMIT_MAX, LIMIT_BURST, served, refused, (unsigned long long)counted);
	if (served > LIMIT_MAX + slack)
		FAIL("%zu of %d connections served with --max-conns %d", served, LIMIT_BURST,
		     LIMIT_MAX);
	if (served < LIMIT_MAX)
		FAIL("only %zu of %d connections served with --max-conns %d: room was refused",
		     served, LIMIT_BURST, LIMIT_MAX);
	if (counted != refused)
		FAIL("%zu connections closed by the server, rejected_max_conns says %llu", refused,
		     (unsigned long long)counted);

	/* The served ones are served in full; then they leave and others take their place. */
	struct conn held[LIMIT_MAX + 1];
	for (size_t i = 0; i < served; i++)
		held[i] = *ok[i];
	echo_round(held, served, 64 * KiB, 0, deadline_in(10000));
	for (size_t i = 0; i < LIMIT_BURST; i++)
		if (c[i].fd >= 0 && c[i].rx == 0)
			conn_close(&c[i]);
	for (size_t i = 0; i < served; i++)
		conn_close(&held[i]);
	if (server_wait_stat(&r.s, "conns", 0, 5000) != 0)
		FAIL("conns did not return to 0 after every client left");
	struct conn next[LIMIT_MAX];
	conn_open_many(next, LIMIT_MAX, r.s.port, 1000, deadline_in(10000));
	echo_round(next, LIMIT_MAX, 64 * KiB, 0, deadline_in(10000));
	for (size_t i = 0; i < LIMIT_MAX; i++)
		conn_close(&next[i]);
	run_figure(&r, "then %d new clients all served", LIMIT_MAX);

	check_bind_any(t, &r);
	run_finish(&r, "limits", t);
}
