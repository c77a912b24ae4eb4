/* case_table.h - the integration cases: name, time limit, whether it may share the machine, and
 * which servers (names from the top-level meson server_table) it applies to.
 *
 * This one table is read twice: by C (cases.c expands CASE() into the case array) and by
 * tests/integration/meson.build (fs.read() of this file, one CASE line per test), so the list of
 * registered meson tests cannot drift from what echo_test knows. Keep one CASE(...) per line,
 * no commas or parentheses inside the server spec.
 *
 * Server spec: space-separated tokens applied left to right: "*" selects every server, "NAME"
 * selects one, "-NAME" removes one.
 * timeout_s: echo_test's own watchdog (alarm) fires at this; meson's timeout is a bit longer so
 * the watchdog, which kills the server and says why, normally wins.
 * parallel: false for cases that load both cores or measure time/CPU and so must run alone on a
 * 2-core machine. Every busypoll test runs alone too (meson.build adds that): it burns a core.
 */

/*   name              timeout_s  parallel  servers */
CASE(echo_sizes,        120,       true,     "* -blocking-iterative")
CASE(many_conns,        120,       false,    "* -blocking-iterative")
CASE(backpressure,       60,       true,     "*")
CASE(reset,              40,       true,     "*")
CASE(half_close,         40,       true,     "*")
CASE(select_limit,       90,       false,    "select")
CASE(iterative_starve,   40,       true,     "blocking-iterative")
CASE(signals_stats,      40,       true,     "*")
CASE(bad_options,        40,       true,     "*")
CASE(bind_any,           40,       true,     "*")
CASE(emfile,             40,       false,    "* -busypoll -blocking-iterative")
CASE(max_conns,          40,       true,     "* -blocking-iterative")
CASE(ring_dry,           60,       true,     "uring")
CASE(loops_stats,        40,       true,     "epoll-threads epoll-workers")
CASE(hold_past_nofile,   40,       false,    "epoll-workers")
CASE(accept_alloc_fail,  40,       true,     "libuv")
