"""sockstat.py - the kernel's own count of TCP sockets and their memory, from /proc/net/sockstat.

What a connection costs is not only the server's RSS: each socket has kernel memory for its
buffers, which the kernel counts for all TCP sockets together ("TCP: ... mem P", in pages; global,
not per network namespace) beside how many are in use ("inuse", this namespace's). bench/run reads
it once before the server starts and once inside the measured window, when every connection is
open (Probe: at the server's first snapshot), so that a row can say the kernel's socket memory per
connection: (mem_window - mem_before) x page size / N. Over loopback both ends of a connection are
this kernel's, so that is the pair's; with clients in other namespaces or hosts, "inuse" counts
only this side's sockets (the memory is still every namespace's).

    read(path="/proc/net/sockstat") -> {"tcp_inuse", "tcp_orphan", "tcp_tw", "tcp_alloc",
                                       "tcp_mem_pages", "sockets_used", "page_size"} or None
    per_connection(before, during, n) -> bytes of TCP memory per connection, or None
    slab_per_connection(before, during, n) -> bytes of the SLABS caches per connection, or None
The TCP memory counts buffers only: an idle connection's are empty, so its cost is mostly its
objects (/proc/slabinfo, root only: "slab_bytes", the SLABS caches' active objects x size).
"""
import os

# The slab caches an established TCP connection takes objects from here: its tcp_sock, the
# socket's inode, its struct file, and an epoll entry where a server watches it (a kernel that
# merges caches may count some under another name: then they are missing, not wrong). Its dentry
# is left out: the dentry cache grows and shrinks with every file lookup on the machine, by more
# than a run's sockets add (seen here: -7 KiB a connection over one window).
SLABS = ("TCP", "sock_inode_cache", "filp", "eventpoll_epi")
FIELDS = {"inuse": "tcp_inuse", "orphan": "tcp_orphan", "tw": "tcp_tw", "alloc": "tcp_alloc", "mem": "tcp_mem_pages"}


def words(path):
    """Each line of a /proc file split into words (blank lines skipped), or None if unreadable."""
    try:
        with open(path) as f:
            return [line.split() for line in f if line.split()]
    except OSError:
        return None


def read(path="/proc/net/sockstat"):
    lines = words(path)
    if lines is None:
        return None
    out = {}
    for w in lines:
        if w[0] == "sockets:" and len(w) >= 3:
            out["sockets_used"] = int(w[2])
        elif w[0] == "TCP:":
            for k, v in zip(w[1::2], w[2::2]):
                if k in FIELDS:
                    out[FIELDS[k]] = int(v)
    if "tcp_mem_pages" not in out or "tcp_inuse" not in out:
        return None
    out["page_size"] = os.sysconf("SC_PAGE_SIZE")
    out["slab_bytes"] = slabs()
    return out


def slabs(path="/proc/slabinfo"):
    """{cache: active objects x object size} for the caches a connection takes objects from, or
    None where slabinfo is unreadable (root only)."""
    out = {}
    for w in words(path) or ():
        if len(w) > 3 and w[0] in SLABS:
            try:
                out[w[0]] = int(w[1]) * int(w[3])
            except ValueError:
                continue
    return out or None


def slab_per_connection(before, during, n):
    """Bytes of the SLABS caches per connection (their growth over the connections opened)."""
    a, b = (before or {}).get("slab_bytes"), (during or {}).get("slab_bytes")
    if not a or not b or not n:
        return None
    return sum(b.get(k, 0) - a.get(k, 0) for k in SLABS) / n


def per_connection(before, during, n):
    if not before or not during or not n:
        return None
    return (during["tcp_mem_pages"] - before["tcp_mem_pages"]) * during["page_size"] / n


class Probe:
    """Reads sockstat once, the first time ready() is true (step() is called every 10 ms while the
    loadgen runs); `before` is read when the Probe is made, before the server starts."""

    def __init__(self, ready):
        self.ready, self.before, self.during = ready, read(), None

    def step(self):
        if self.during is None and self.ready():
            self.during = read()

    def result(self, n):
        return {"before": self.before, "window": self.during,
                "tcp_mem_bytes_per_conn": per_connection(self.before, self.during, n),
                "slab_bytes_per_conn": slab_per_connection(self.before, self.during, n)}
