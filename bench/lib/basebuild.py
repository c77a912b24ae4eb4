#!/usr/bin/env python3
"""basebuild.py - build another commit of this repository beside the working tree, for the
regression gate's base: a git worktree of the commit and a meson build directory of its own.

Both live under build-regress/<commit>-<options>/ (ignored by git, like every build-*), so a
second gate against the same base only runs ninja, which finds nothing to do: the cache is keyed
by the commit and the meson options it was configured with, and a moved base is a new directory.
The base is configured like the head build (its buildtype and sanitizers), so that the two differ
by their code alone; a planted regression (-Dplant) is never copied to the base.

usage: basebuild.py REV [HEAD_BUILD]   -> the base's build directory on stdout (progress on stderr)
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COPIED = ("buildtype", "b_sanitize", "b_lundef", "libuv", "io_uring")


class Error(Exception):
    """The base cannot be had: one line for the user."""


def git(*args, cwd=ROOT):
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise Error(f"git {' '.join(args)}: {p.stderr.strip() or 'failed'}")
    return p.stdout.strip()


def resolve(rev):
    """REV -> the full commit id, or Error naming REV."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except Error:
        raise Error(f"'{rev}' is not a commit of this repository") from None


def build_options(build):
    """{option: value} of a meson build directory (meson-info), or {} when it has none."""
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            return {o["name"]: o["value"] for o in json.load(f)}
    except (OSError, ValueError, KeyError):
        return {}


def source_of(build):
    """A meson build directory's source directory, or None."""
    try:
        with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
            return json.load(f)["directories"]["source"]
    except (OSError, ValueError, KeyError):
        return None


def describe(build):
    """{commit, dirty, plant, dir, describe} of a build directory whose source is a git checkout."""
    src = source_of(build)
    info = {"dir": os.path.abspath(build), "commit": None, "dirty": None,
            "plant": build_options(build).get("plant", "none")}
    if src:
        try:
            info["commit"] = git("rev-parse", "HEAD", cwd=src)
            info["dirty"] = bool(git("status", "--porcelain", "--untracked-files=no", cwd=src))
        except Error:
            pass
    words = [info["commit"][:12] if info["commit"] else os.path.basename(info["dir"])]
    if info["dirty"]:
        words.append("(with uncommitted changes)")
    if info["plant"] not in ("none", None):
        words.append(f"(planted regression: {info['plant']})")
    info["describe"] = " ".join(words)
    return info


def _run(argv, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(argv) + "\n")
        f.flush()
        return subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT).returncode == 0


def build(rev, head_build):
    """Builds commit REV configured like HEAD_BUILD; -> its build directory."""
    commit = resolve(rev)
    opts = {k: v for k, v in build_options(head_build).items() if k in COPIED}
    key = hashlib.sha1(json.dumps(opts, sort_keys=True).encode()).hexdigest()[:8]
    home = os.path.join(ROOT, "build-regress", f"{commit[:12]}-{key}")
    src, out, log = os.path.join(home, "src"), os.path.join(home, "build"), os.path.join(home, "build.log")
    os.makedirs(home, exist_ok=True)
    if not os.path.isfile(os.path.join(src, "meson.build")):
        shutil.rmtree(src, ignore_errors=True)
        git("worktree", "prune")
        print(f"basebuild: worktree of {commit[:12]} in {src}", file=sys.stderr)
        git("worktree", "add", "--detach", "--force", src, commit)
    if not os.path.isfile(os.path.join(out, "build.ninja")):
        args = [f"-D{k}={(','.join(v) if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else v)}"
                for k, v in sorted(opts.items())]
        if not _run(["meson", "setup", *args, out, src], log):
            shutil.rmtree(out, ignore_errors=True)
            raise Error(f"meson setup of {commit[:12]} failed: see {log}")
    if not _run(["ninja", "-C", out], log):
        raise Error(f"the base {commit[:12]} did not build: see {log}")
    if not os.path.isfile(os.path.join(out, "servers", "servers.tsv")):
        raise Error(f"the base {commit[:12]} has no table of servers (servers/servers.tsv): it predates "
                    "the gate's A/B runs; choose a later BASE")
    return out


def main(argv):
    if len(argv) not in (1, 2):
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    try:
        print(build(argv[0], argv[1] if len(argv) > 1 else os.path.join(ROOT, "build")))
    except Error as e:
        print(f"basebuild: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
