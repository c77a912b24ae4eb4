/* fatal.h - the one way a muxbench program gives up: one line on stderr, exit status 1.
 *
 * A benchmark or a server that meets an unexpected failure has nothing honest left to report, so it
 * stops, naming what failed, as Redis' ae backends do. The line starts with the program's name
 * (glibc's program_invocation_short_name: "loadgen", "echo-epoll", "waitcost"), so a script that
 * runs several of them can tell whose line it is. Exit status 1 is "a failed run"; 2 stays "bad
 * usage" (opts.h), so the two never mix.
 */
#ifndef MUXBENCH_FATAL_H
#define MUXBENCH_FATAL_H

/* "PROGRAM: WHAT" on stderr, exit 1: the program found something wrong (a count, a set). */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "PROGRAM: WHAT: strerror(errno)" on stderr, exit 1: a syscall failed. errno is read first,
 * before formatting can change it. */
_Noreturn void fatal_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
