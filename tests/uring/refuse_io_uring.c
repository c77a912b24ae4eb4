/* refuse_io_uring.c - `refuse_io_uring ERRNO PROG [ARGS...]`: run PROG with io_uring_setup(2)
 * failing with errno ERRNO (a number), as a kernel that refuses io_uring does.
 *
 * Shows: how echo-uring tells "the kernel refuses io_uring" (ENOSYS: not built in; EPERM:
 * kernel.io_uring_disabled or a seccomp policy; exit 77, skipped) from a failure of its own
 * (ENOMEM, say: exit 1). A seccomp filter is what container runtimes use to refuse io_uring, so
 * the server meets a real refusal from the kernel, without touching the machine-wide sysctl that
 * every other test on the machine would see.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#endif

int main(int argc, char **argv)
{
	char *end;
	long err = argc >= 3 ? strtol(argv[1], &end, 10) : 0;
	if (argc < 3 || *end != '\0' || err <= 0 || err > 4095) {
		fprintf(stderr, "usage: refuse_io_uring ERRNO PROG [ARGS...]\n");
		return 2;
	}
#ifndef AUDIT_ARCH_HERE
	fprintf(stderr, "refuse_io_uring: no seccomp filter for this architecture\n");
	return 77;
#else
	struct sock_filter filter[] = {
		/* Another architecture's syscall numbers mean something else: refuse those outright. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		fprintf(stderr, "refuse_io_uring: seccomp: %s\n", strerror(errno));
		return 77; /* a kernel without seccomp filters: nothing to test with */
	}
	execv(argv[2], argv + 2);
	fprintf(stderr, "refuse_io_uring: %s: %s\n", argv[2], strerror(errno));
	return 1;
#endif
}
