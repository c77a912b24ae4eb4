/* sqthread.h - the io_uring SQ thread of this process (echo-uring --sqpoll), watched from the
 * stats line: which CPU it ran on and the CPU time it used.
 *
 * With IORING_SETUP_SQPOLL the kernel starts a thread, iou-sqp-PID, in this process's thread group
 * that takes submissions off the queue and posts completions: the work the server's syscalls did,
 * done on a CPU of its own choosing (or --sq-cpu's) and busy-polling the queue while it waits.
 * Its time is already in getrusage(RUSAGE_SELF), so in the server's user_us and sys_us; the stats
 * line shows it apart as "sq_thread": {"tid", "cpu" (where it last ran), "allowed" (the CPUs it
 * may run on), "cpu_us"}, so that a row can say how much of the server's CPU it was and where.
 * Read at each stats line with 5 syscalls (its CPU clock, its affinity, and the open, read and
 * close of its /proc stat), which like the line's own write are the measurement's, not counted as
 * the server's.
 */
#ifndef MUXBENCH_SQTHREAD_H
#define MUXBENCH_SQTHREAD_H

#include <stdbool.h>
#include <stddef.h>

/* Finds the SQ thread among this process's threads (after the ring is set up); false if there is
 * none. From then on every stats line carries its "sq_thread" object. */
bool sqthread_find(void);
/* Appends ,"sq_thread":{...} to buf (at most cap bytes, NUL-terminated) if one was found; returns
 * the bytes written. */
size_t sqthread_format(char *buf, size_t cap);

#endif
