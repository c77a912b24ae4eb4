#!/usr/bin/env python3
"""profile.py - where a server's CPU went, and the kernel's own count of its readiness checks, from
one `perf record` of the loadgen's measured window (bench/run's "profile" repetitions).

A syscall count is not a cost: poll makes fewer syscalls per request than epoll and still loses,
by the O(N) scan inside one call. So a profiled repetition samples the server with the software
clock (cpu-clock: these machines have no hardware counters) and records the tracepoints that carry
what each wait was asked to examine, and this module turns the recording into
  - shares of the server's CPU samples: wait, recv, send, kernel_other, user (results/README.md,
    "Where the CPU went (perf record)", says how a sample is classified);
  - the kernel's count of readiness checks, to set beside the one the server keeps itself;
  - a `perf report` of the top symbols, for a reader who wants the detail.

record_argv(data, target, ctl, ack) -> perf record's argv: counting off until the loadgen's
--perf-ctl enable, as bench/run does with perf stat, so the recording brackets exactly its window.
summarize(data, report, checks_kind) -> the dict bench/run puts in the row (see summarize).

As a command:  profile.py summarize DATA CHECKS_KIND    prints that dict as JSON (the report goes
to DATA.report.txt); CHECKS_KIND is one of reads, set_fds, nfds, events, completions, none.
"""
import json
import re
import subprocess
import sys

# 999 Hz, not 1000: a rate that is not a multiple of the timer tick (HZ 250 or 1000) or of the
# loadgen's round-number schedules does not sample in lockstep with them. About 1000 samples per
# second of busy server CPU give a share within +-1.5 points (95%) over a 5 s window, while the
# cost (a kernel stack walk per sample, some µs) stays under 1% of the sampled CPU. 1999 Hz would
# halve the interval's width at twice the cost.
FREQ = 999

EVENT = "cpu-clock"  # the sampled event, named so by record_argv whatever its terms

# What the kernel was asked to examine, one record per call (or per completion), no call graph:
TRACEPOINTS = (
    "syscalls:sys_enter_poll",         # nfds: do_poll polls every entry
    "syscalls:sys_enter_pselect6",     # n (maxfd+1): the bits do_select walks; glibc's select() is pselect6
    "syscalls:sys_exit_epoll_wait",    # ret: events ep_send_events delivered
    "syscalls:sys_exit_epoll_pwait",   # ret: the same, for epoll_pwait (libuv's, glibc's epoll_wait)
    "io_uring:io_uring_complete",      # one per CQE posted
)

# The per-CPU ring perf's kernel side writes into. perf's default (516 KiB as root) lost records
# at ~400k tracepoint hits per second (a busy poll loop); 8 MiB per CPU holds a second of that
# while perf is descheduled. Root is not bound by perf_event_mlock_kb.
MMAP = "8M"

# Every subprocess has a deadline: a perf that hangs must not hang bench/run.
SCRIPT_TIMEOUT_S = 300  # perf script over a window of a busy poll loop: ~1M records
REPORT_TIMEOUT_S = 120
TOP = 30  # symbol lines kept in the report

# Classification of a cpu-clock sample, from its kernel call chain (leaf to root). The names are
# those of this kernel (6.18, checked on recordings of echo-poll, echo-select, echo-epoll,
# echo-libuv and echo-uring; ep_poll is inlined into do_epoll_wait there); a
# frame matches a name exactly or as NAME.suffix (the compiler's .isra.0, .constprop.0 clones).
# recv and send are looked for before wait, since io_uring_enter both issues sends and receives
# inline and waits, and a frame of either tells what the CPU was doing then.
RECV = (
    "tcp_recvmsg",         # TCP's receive: copies queued bytes to the user's buffer
    "tcp_recvmsg_locked",
    "inet_recvmsg",        # the socket layer's receive above it
    "sock_recvmsg",
    "sock_read_iter",      # read(2) on a socket
    "__sys_recvfrom",      # recv(2)/recvfrom(2)
    "unix_stream_recvmsg", # the signalfd is not a socket; unix sockets would be
    "io_recv",             # io_uring's IORING_OP_RECV (multishot too) issued inline
    "io_recvmsg",
    "io_recv_finish",
)
SEND = (
    # On loopback the receiver's side runs inside the send: tcp_sendmsg -> ... -> loopback_xmit ->
    # the softirq (net_rx_action, tcp_v4_rcv) that queues the bytes on the peer socket and wakes
    # its reader. That work is counted as send: it is the cost of this server's send on loopback.
    "tcp_sendmsg",
    "tcp_sendmsg_locked",
    "inet_sendmsg",
    "sock_sendmsg",
    "__sock_sendmsg",
    "sock_write_iter",     # write(2) on a socket
    "__sys_sendto",        # send(2)/sendto(2)
    "io_send",             # io_uring's IORING_OP_SEND issued inline
    "io_sendmsg",
    "io_send_zc",
)
WAIT = (
    "do_sys_poll",         # poll(2): copies in the pollfds, do_poll polls each, copies out
    "do_poll",
    "core_sys_select",     # pselect6(2) (glibc's select): copies the sets, do_select walks the bits
    "do_select",
    "do_epoll_wait",       # epoll_wait/epoll_pwait: ep_poll sleeps, ep_send_events delivers the ready list
    "ep_poll",
    "io_cqring_wait",      # io_uring_enter with IORING_ENTER_GETEVENTS: waiting for CQEs
    "io_cqring_wait_schedule",
)
SHARES = ("wait", "recv", "send", "kernel_other", "user")

KERNEL_MIN = 1 << 63  # x86_64 and arm64 kernels live in the upper half of the address space


def record_argv(data_path, target, ctl, ack):
    """perf record's argv. target: ["-p", PID], or ["-a", "-G", CGROUP] (per-CPU events, each
    filtered to the cgroup, which holds only the server). Counting starts disabled (-D -1) and
    follows the loadgen's enable/disable on the control fifo (made by the caller, as for perf stat).

    cpu-clock takes its frequency as a term, not -F: -F would also turn the tracepoints into
    frequency-sampled events (perf 6.1 applies it to every event), which drop hits; without it
    they keep period 1, every hit a record. Call graphs are the kernel's only (frame pointers; the
    user stack is not needed to classify a sample and would add a copy per sample), and none for
    the tracepoints. The threads a server starts are followed (perf's default inherit)."""
    argv = ["perf", "record", "-q", "-o", str(data_path), "-D", "-1", "--control", f"fifo:{ctl},{ack}",
            "-m", MMAP, "--no-buildid", "--no-buildid-cache",
            "-e", f"{EVENT}/freq={FREQ},name={EVENT}/", "-g", "--kernel-callchains"]
    for tp in TRACEPOINTS:
        argv += ["-e", f"{tp}/call-graph=no/"]
    target = [str(x) for x in target]
    if "-G" in target:
        # -G refers to the events defined before it: one name per event, which perf 6.1 also takes
        # a single name for; the explicit list does not depend on that.
        i = target.index("-G")
        target = target[:i + 1] + [",".join([target[i + 1]] * (1 + len(TRACEPOINTS)))] + target[i + 2:]
    return argv + target


def _frame_name(sym):
    """'ep_poll.isra.0+0x12' or 'ep_poll' -> 'ep_poll'."""
    return sym.split("+", 1)[0].split(".", 1)[0]


def classify(frames):
    """frames: the sample's kernel call chain [(address, symbol)], leaf (its IP) first -> one of
    SHARES. No frame, or a user-space IP first: the CPU was running the server's own code."""
    if not frames or frames[0][0] < KERNEL_MIN:
        return "user"
    names = {_frame_name(s) for a, s in frames if a >= KERNEL_MIN}
    for share, funcs in (("recv", RECV), ("send", SEND), ("wait", WAIT)):
        if names.intersection(funcs):
            return share
    return "kernel_other"


# perf script -F comm,tid,event,ip,sym,trace prints a header line per record,
#   "COMM TID EVENT: [TRACE ARGS  IP SYM]"         (COMM may hold spaces; right-aligned for tracepoints)
# then, for a cpu-clock sample, one "\tADDR SYM" line per frame of its kernel call chain (leaf
# first) and an empty line. A sample taken in user space has an empty chain (--kernel-callchains:
# the chain holds the IP only when the IP is the kernel's), so it prints no frame at all.
# --show-lost-events adds "COMM TID PERF_RECORD_LOST lost N" where the ring overflowed.
HEADER = re.compile(r"^\s*(?P<comm>.*?)\s+(?P<tid>\d+)\s+(?P<event>[\w:./=,-]+):(?:\s+(?P<rest>.*?))?\s*$")
FRAME = re.compile(r"^\s+(?P<addr>[0-9a-f]+)\s+(?P<sym>.*?)\s*$")
LOST = re.compile(r"^\s*.*?\s+\d+\s+PERF_RECORD_LOST lost (\d+)")
ARG = re.compile(r"(\w+): (0x[0-9a-fA-F]+|-?\d+)")


def _signed(v):
    """A tracepoint's hex (0x%lx of a long): 0xfffffffffffffffc is -4 (-EINTR)."""
    v = int(v, 16) if v.lower().startswith("0x") else int(v)
    return v - (1 << 64) if v >= 1 << 63 else v


def trace_value(event, text):
    """The figure a tracepoint is recorded for, from its printed arguments ('nfds: 0x00000016, ...'
    for the enter tracepoints, '0x3' for the exit ones), or None."""
    text = text or ""
    want = {"syscalls:sys_enter_poll": "nfds", "syscalls:sys_enter_pselect6": "n"}.get(event)
    if want:
        return next((_signed(v) for name, v in ARG.findall(text) if name == want), None)
    if event.startswith("syscalls:sys_exit_"):
        m = re.match(r"\s*(?:ret: )?(0x[0-9a-fA-F]+|-?\d+)\b", text)
        return _signed(m.group(1)) if m else None
    return None


def is_sample(event):
    return event == EVENT or event.startswith(EVENT + "/")  # named by record_argv, or by its terms


def parse_script(lines):
    """perf script's lines -> {"shares": {share: samples}, "samples": n, "lost": records lost,
    "tracepoints": {name: {"events": n, "sum": s}}}. The sum is of the argument for the enter
    tracepoints, of ret > 0 for the exit ones (a negative ret is an error, EINTR say, that
    delivered nothing), and the count for io_uring_complete (one CQE each)."""
    counts = dict.fromkeys(SHARES, 0)
    tps = {tp: {"events": 0, "sum": 0} for tp in TRACEPOINTS}
    lost = 0
    frames = None  # the current sample's call chain, while its lines are being read
    for line in lines:
        line = line.rstrip("\n")
        head = HEADER.match(line)
        known = head and (is_sample(head.group("event")) or head.group("event") in tps)
        if frames is not None:
            f = FRAME.match(line)
            if f and not known:
                frames.append((int(f.group("addr"), 16), f.group("sym")))
                continue
            counts[classify(frames)] += 1
            frames = None
        m = LOST.match(line)
        if m:
            lost += int(m.group(1))
        elif known and is_sample(head.group("event")):
            frames = []
        elif known:
            event, t = head.group("event"), tps[head.group("event")]
            t["events"] += 1
            if event == "io_uring:io_uring_complete":
                t["sum"] += 1
            else:
                v = trace_value(event, head.group("rest"))
                if v is not None and (v > 0 or not event.startswith("syscalls:sys_exit_")):
                    t["sum"] += v
    if frames is not None:
        counts[classify(frames)] += 1
    return {"shares": counts, "samples": sum(counts.values()), "lost": lost, "tracepoints": tps}


# checks kind (the servers table's `checks` column) -> (the tracepoints it is counted from, what
# is summed, which of checks/walked it is). The sums are parse_script's: nfds and n as given, ret
# where ret > 0, and one per io_uring_complete record.
COUNTED = {
    "nfds": (("syscalls:sys_enter_poll",), "sum of nfds", "checks"),
    "events": (("syscalls:sys_exit_epoll_wait", "syscalls:sys_exit_epoll_pwait"), "sum of ret > 0", "checks"),
    "none": (("syscalls:sys_exit_epoll_wait", "syscalls:sys_exit_epoll_pwait"), "sum of ret > 0",
             "checks"),  # libuv: epoll underneath
    "completions": (("io_uring:io_uring_complete",), "count", "checks"),
    "set_fds": (("syscalls:sys_enter_pselect6",), "sum of n", "walked"),
}
WHY_NOT = {
    "set_fds": "the tracepoint gives the set pointers, not their bits",
    "reads": "counted from perf stat's read and accept4 counts in the kernel-counted repetition",
}


def kernel_checks(checks_kind, tps, lost):
    """The kernel's count of the checks the server counts itself, per the servers table's `checks`
    column, from parse_script's tracepoints -> {"checks", "walked", "source", "why_not"}. walked
    equals checks for every model but select (spec: "walked"). A recording with lost records, or
    with no record of the tracepoint, gives None and says why: never a short count."""
    if checks_kind not in COUNTED:
        why = WHY_NOT.get(checks_kind, f"unknown checks kind {checks_kind!r}")
        return {"checks": None, "walked": None, "source": "perf stat" if checks_kind == "reads" else "",
                "why_not": why}
    names, what, field = COUNTED[checks_kind]
    source = f"perf record: {what} of {' + '.join(names)}"
    out = {"checks": None, "walked": None, "source": source, "why_not": None}
    if lost:
        out["why_not"] = f"perf lost {lost} records of the recording: the count would be short"
    elif not any(tps[n]["events"] for n in names):
        out["why_not"] = f"no {' or '.join(names)} records in the recording"
    else:
        total = sum(tps[n]["sum"] for n in names)
        out["walked"] = total
        if field == "checks":
            out["checks"] = total
        else:
            out["why_not"] = WHY_NOT[checks_kind]
    return out


def run(argv, timeout, **kw):
    """-> (exit status or None when it could not run or timed out, stdout text, stderr text)."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=timeout, **kw)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return None, "", f"{argv[0]} {argv[1]}: no end after {timeout} s"
    except OSError as e:
        return None, "", f"{argv[0]}: {e.strerror}"


def trim_report(text):
    """perf report --stdio's output -> its header lines and the cpu-clock section's header and
    first TOP symbol lines (the tracepoints' sections are their counts, summarized elsewhere)."""
    out, section, kept = [], None, 0
    for line in text.splitlines():
        m = re.match(r"# Samples: .* of event '([^']*)'", line)
        if m:
            section = m.group(1)
        if section is None:
            if line.startswith("#"):
                out.append(line)
            continue
        if not (section == EVENT or section.startswith(EVENT + "/")):
            continue
        if line.startswith("#") or not line.strip():
            if kept == 0:
                out.append(line)
        elif kept < TOP:
            out.append(line)
            kept += 1
    return "\n".join(out) + "\n"


def write_report(data_path, report_path):
    rc, out, err = run(["perf", "report", "-i", str(data_path), "--stdio", "--no-children", "-g", "none",
                        "--sort", "sym"], REPORT_TIMEOUT_S)
    if rc == 0 and "# Samples:" in out:
        text = trim_report(out)
    else:
        text = f"# perf report gave nothing (exit {rc}): {(err.strip().splitlines() or [''])[-1]}\n"
    with open(report_path, "w") as f:
        f.write(text)


def summarize(data_path, report_path, checks_kind):
    """-> {"samples": n, "shares": {wait, recv, send, kernel_other, user} fractions summing to 1 or
    None without samples, "kernel_checks": {"checks", "walked", "source", "why_not"},
    "tracepoints": {name: {"events": n, "sum": s}}, "lost": records perf lost}; writes report_path.
    Never raises on a recording perf cannot read: the result then says why in why_not."""
    rc, out, err = run(["perf", "script", "-i", str(data_path), "--show-lost-events",
                        "-F", "comm,tid,event,ip,sym,trace"], SCRIPT_TIMEOUT_S)
    write_report(data_path, report_path)
    if rc != 0:
        why = f"perf script failed (exit {rc}): {(err.strip().splitlines() or [''])[-1]}"
        return {"samples": 0, "shares": None, "lost": 0,
                "kernel_checks": {"checks": None, "walked": None, "source": "perf record", "why_not": why},
                "tracepoints": {tp: {"events": 0, "sum": 0} for tp in TRACEPOINTS}}
    p = parse_script(out.splitlines())
    n = p["samples"]
    shares = {k: v / n for k, v in p["shares"].items()} if n else None
    return {"samples": n, "shares": shares, "lost": p["lost"],
            "kernel_checks": kernel_checks(checks_kind, p["tracepoints"], p["lost"]),
            "tracepoints": p["tracepoints"]}


KINDS = ("reads", "set_fds", "nfds", "events", "completions", "none")


def main(argv):
    if len(argv) != 3 or argv[0] != "summarize" or argv[2] not in KINDS:
        print(f"usage: profile.py summarize DATA CHECKS_KIND   (CHECKS_KIND: {' | '.join(KINDS)})",
              file=sys.stderr)
        return 2
    data = argv[1]
    json.dump(summarize(data, data + ".report.txt", argv[2]), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
