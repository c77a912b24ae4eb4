#!/usr/bin/env python3
"""probes.py - does this kernel give a server what it needs? Asked of the kernel, not of the server.

The table of servers names what a server cannot run without in its `needs` column (io_uring). A
server that exits 77 says the kernel refused it, but the regression gate must not take a server's
word for that: a bug that makes echo-uring exit 77 on a kernel that serves io_uring would pass as
"unsupported" for ever. So the gate asks the kernel itself, here, and a server that produced no
figures on a kernel that grants what it needs fails.

refused(need) -> None when the kernel grants it, else one line saying why not.
usage: probes.py NEED...   -> one line per need; exit 0 if all are granted, 1 if not, 2 unknown need
"""
import ctypes
import errno
import os
import platform
import sys

NR_IO_URING_SETUP = 425  # the same on every architecture since 5.1 (the unified syscall table)
IO_URING_PARAMS_SIZE = 120  # struct io_uring_params
MIN_URING_KERNEL = (6, 0)  # echo-uring's multishot recv and buffer rings (servers/uring_ring.h)


def _kernel_version():
    parts = []
    for p in platform.release().split("-")[0].split("."):
        if not p.isdigit():
            break
        parts.append(int(p))
    return tuple(parts)


def _io_uring():
    version = _kernel_version()
    if version < MIN_URING_KERNEL:
        return f"Linux {platform.release()} is older than {'.'.join(map(str, MIN_URING_KERNEL))}"
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(IO_URING_PARAMS_SIZE)
    fd = libc.syscall(NR_IO_URING_SETUP, ctypes.c_uint(1), params)
    if fd >= 0:
        os.close(fd)
        return None
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EPERM):  # not built in; io_uring_disabled, seccomp or an LSM
        return f"io_uring_setup: {errno.errorcode.get(err, err)} ({os.strerror(err)})"
    return None  # another error (ENOMEM, EMFILE) is not a refusal: the server must run


PROBES = {"io_uring": _io_uring}


def refused(need):
    """None if the kernel grants NEED, else why not. KeyError for a need nobody can probe."""
    return PROBES[need]()


def main(argv):
    if not argv:
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    status = 0
    for need in argv:
        if need not in PROBES:
            print(f"probes.py: no probe for '{need}' (known: {', '.join(PROBES)})", file=sys.stderr)
            return 2
        why = refused(need)
        print(f"{need}: {'granted' if why is None else 'refused: ' + why}")
        status = status or (1 if why else 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
