#!/usr/bin/env python3
"""servers.py - the one table of servers, as meson writes it (BUILD/servers/servers.tsv).

bench/run, bench/sweep and bench/hyperfine read what a server is and what it can do from here, so
that no script compares a server's name to decide how to run it: select's FD_SETSIZE rule is its
fd_limit column, libuv's missing in-process counts its counters column, the sweep's default list
its sweep column, what a server's readiness checks count its checks column. The file has a header
line, then one tab-separated row per server:

    name path args serial spins fd_limit counters loops workers needs sweep checks

(servers/meson.build: server_table, whose comment says what each column means). checks is newer
than the others: a table without it (a base build of an older commit) reads as checks None.

load(build_dir) -> {name: Server}, in the table's order. As a command, for the shell scripts:
    servers.py BUILD names [--sweep]   the row names (--sweep: the default sweep's), one a line
    servers.py BUILD check NAME...     exit 2 with one line unless every NAME is a built row
    servers.py BUILD show NAME FIELD   one column of one row (args space-separated)
"""
import os
import sys
from typing import NamedTuple

COLUMNS = ("name", "path", "args", "serial", "spins", "fd_limit", "counters", "loops", "workers", "needs",
           "sweep", "checks")
# Columns a table may lack (it predates them): the row then holds None.
OPTIONAL = ("checks",)
# What a server's stats "checks" count (results/README.md, "Readiness checks").
CHECKS = ("reads", "set_fds", "nfds", "events", "completions", "none")


class Error(Exception):
    """A table that is missing or malformed, or a name that is not in it: one line for the user."""


class Server(NamedTuple):
    name: str
    path: str
    args: list
    serial: bool
    spins: bool
    fd_limit: int  # 0, or the first fd number it cannot watch
    counters: str  # in-process | none
    loops: int
    workers: int
    needs: object  # a kernel feature, or None
    sweep: bool
    checks: object = None  # one of CHECKS; None: the table predates the column

    @property
    def model(self):
        """The executable's model (echo-epoll -> epoll): the `server` column of a results row, which
        with the variant the server reports makes the row's label (results.label)."""
        base = os.path.basename(self.path)
        return base[len("echo-"):] if base.startswith("echo-") else base

    def built(self):
        return os.access(self.path, os.X_OK)


def path_of(build_dir):
    return os.path.join(build_dir, "servers", "servers.tsv")


def _flag(value, where):
    if value not in ("yes", "no"):
        raise Error(f"{where}: '{value}' is not yes or no")
    return value == "yes"


def _int(value, where):
    try:
        return int(value)
    except ValueError:
        raise Error(f"{where}: '{value}' is not a number") from None


def parse(lines, where):
    """The table's lines (header first) -> {name: Server}."""
    if not lines:
        raise Error(f"{where}: empty")
    header = lines[0].rstrip("\n").split("\t")
    missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL]
    if missing:
        raise Error(f"{where}: no column {', '.join(missing)} in the header")
    table = {}
    for n, line in enumerate(lines[1:], 2):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise Error(f"{where}:{n}: {len(cells)} columns, the header has {len(header)}")
        c = dict(zip(header, cells))
        at = f"{where}:{n}"
        checks = c.get("checks")
        if checks is not None and checks not in CHECKS:
            raise Error(f"{at}: checks '{checks}' is not one of {' '.join(CHECKS)}")
        row = Server(name=c["name"], path=c["path"], args=c["args"].split(), serial=_flag(c["serial"], at),
                     spins=_flag(c["spins"], at), fd_limit=_int(c["fd_limit"], at), counters=c["counters"],
                     loops=_int(c["loops"], at), workers=_int(c["workers"], at),
                     needs=None if c["needs"] in ("", "-") else c["needs"], sweep=_flag(c["sweep"], at),
                     checks=checks)
        if row.name in table:
            raise Error(f"{at}: '{row.name}' twice")
        table[row.name] = row
    return table


def load(build_dir):
    path = path_of(build_dir)
    try:
        with open(path) as f:
            return parse(f.readlines(), path)
    except FileNotFoundError:
        raise Error(f"no {path}: configure and build first (make)") from None
    except OSError as e:
        raise Error(f"{path}: {e.strerror}") from None


def lookup(table, name, build_dir):
    """The row NAME, built; else Error naming the rows there are."""
    row = table.get(name)
    if row is None:
        raise Error(f"'{name}' is not a server in {path_of(build_dir)} (servers: {' '.join(table)})")
    if not row.built():
        raise Error(f"no {row.path}: build it first (make)")
    return row


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    build, cmd, rest = argv[0], argv[1], argv[2:]
    try:
        table = load(build)
        if cmd == "names" and rest in ([], ["--sweep"]):
            print("\n".join(n for n, r in table.items() if r.sweep or not rest))
        elif cmd == "check" and rest:
            for name in rest:
                lookup(table, name, build)
        elif cmd == "show" and len(rest) == 2 and rest[1] in COLUMNS:
            value = getattr(lookup(table, rest[0], build), rest[1])
            if isinstance(value, bool):
                value = "yes" if value else "no"
            print(" ".join(value) if isinstance(value, list) else "-" if value is None else value)
        else:
            print(f"servers.py: bad command {' '.join(argv[1:])!r}", file=sys.stderr)
            return 2
    except Error as e:
        print(f"servers.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
