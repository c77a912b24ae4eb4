/* case_table.h - the integration cases: name, time limit, whether it may share the machine, the
 * servers it applies to, and what it shows (the format of tests/integration/suite.h).
 *
 * Read twice: by C (cases.h declares the functions, main.c builds the array) and by
 * tests/integration/meson.build (one meson test per case and server it applies to), so the
 * registered tests cannot drift from what echo_test knows.
 *
 * applies: capabilities, never server names (table.h's spec_applies(): "*" every server, "WORD"
 * those that have it, "-WORD" removes them; WORD is serial, spins, fd_limit, multiloop, workers,
 * counters, a needed kernel feature such as io_uring, or a test trait of server_table such as
 * fail_accept_alloc, echo-libuv's test hook). Serial servers leave the cases that need several
 * connections served at once; a spinning one leaves emfile, whose CPU bound it cannot meet.
 * timeout_s: echo_test's own watchdog (alarm) fires at this; meson's timeout is a bit longer so
 * the watchdog, which kills the server and says why, normally wins.
 * parallel: false for cases that load both cores or measure time/CPU and so must run alone on a
 * 2-core machine. Every test of a spinning server runs alone too (meson.build adds that).
 */

/*   name              timeout_s  parallel  applies */
CASE(echo_sizes,        120,       true,     "* -serial",
     "1 B to 4 MiB over 100 concurrent connections, echoed in order")
CASE(many_conns,        120,       false,    "* -serial",
     "2,000 mostly idle connections (fewer below an fd limit), 50 active ones served")
CASE(backpressure,       60,       true,     "*",
     "a client that never reads: bounded RSS, everything echoed once it reads")
CASE(reset,              40,       true,     "*",
     "an RST mid-echo ends that connection only")
CASE(half_close,         40,       true,     "*",
     "shutdown(SHUT_WR) with output pending: nothing dropped")
CASE(select_limit,       90,       false,    "fd_limit",
     "a connection whose fd is past the limit is closed at once and counted")
CASE(iterative_starve,   40,       true,     "serial",
     "one idle client starves the next until it leaves")
CASE(signals_stats,      40,       true,     "*",
     "SIGUSR1 snapshots, SIGTERM's final line, counters agree with the client")
CASE(bad_options,        40,       true,     "*",
     "a mistyped command line: one stderr line, exit 2")
CASE(bind_any,           40,       true,     "*",
     "--bind 0.0.0.0: said on the ready line, warned on stderr")
CASE(emfile,             40,       false,    "* -spins -serial",
     "at RLIMIT_NOFILE: shed, counted, idle, recovered")
CASE(max_conns,          40,       true,     "* -serial",
     "--max-conns: the one past the limit closed and counted")
CASE(ring_dry,           60,       true,     "multishot_recv",
     "1,000 connections through 64-byte ring buffers: ENOBUFS and re-arms, every byte back")
CASE(busy_poll_napi,     40,       true,     "busy_poll",
     "epoll --busy-poll over loopback: echoes, asks each connection for its NAPI id, counts none")
CASE(sq_thread,          40,       false,    "sq_thread",
     "io_uring --sqpoll: its kernel thread pinned to the server's CPU, its time in the server's")
CASE(fixed_files,        40,       true,     "fixed_files",
     "io_uring --fixed-files: 50 connections' lives without accept4, setsockopt or close")
CASE(zero_copy,          40,       true,     "zero_copy",
     "io_uring --zc: 64 KiB echoes through zero-copy sends, one notification each")
CASE(bundle,             40,       true,     "bundle",
     "io_uring --bundle: 64 KiB echoes, more than a ring buffer per receive completion")
CASE(loops_stats,        40,       true,     "multiloop",
     "several loops: snapshots and the final line are exact sums")
CASE(hold_past_nofile,   40,       false,    "workers",
     "worker processes hold more connections than one process has fds")
CASE(accept_alloc_fail,  40,       true,     "fail_accept_alloc",
     "a connection the server cannot allocate for is refused, accepting goes on")
CASE(checks_exact,       60,       true,     "*",
     "100 idle + 1 active connection, 1,000 requests: checks, walked, scanned exact per model")
