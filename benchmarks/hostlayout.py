"""The host's cgroup layout, and the one change the benchmark may make to it: hugetlb to v1.

crun 1.8.1 refuses a hybrid host (v1 hierarchies + cgroup2 at /sys/fs/cgroup/unified) while a
controller, here hugetlb, is enabled on the cgroup2 side. For the run, the benchmark mounts hugetlb
as a v1 hierarchy (which moves it off cgroup2) and afterwards unmounts it (which moves it back),
in a `finally`, with SIGTERM/SIGHUP/SIGINT turned into exceptions so that it happens on failure
too. A hugetlb v1 mount found already there belongs to someone else: it is left as found.
All three runtimes run on the same layout, so the rows compare like with like.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import sys
from contextlib import contextmanager

HUGETLB = "/sys/fs/cgroup/hugetlb"


def cgroup_mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of every cgroup/cgroup2 mount."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.rstrip("\n").split(" - ", 1)
            fstype, _src, opts = right.split(" ", 2)
            if fstype in ("cgroup", "cgroup2"):
                out.append((left.split(" ")[4], fstype, set(opts.split(","))))
    return out


def describe() -> tuple[str, list[str]]:
    """(kind, controllers enabled on the cgroup2 side of a hybrid host)."""
    mounts = cgroup_mounts()
    v1 = [m for m in mounts if m[1] == "cgroup" and "name=systemd" not in m[2]]
    v2 = [m for m in mounts if m[1] == "cgroup2"]
    if not v1:
        return ("cgroup v2 (unified)" if v2 else "no cgroups"), []
    if not v2:
        return "cgroup v1 (legacy)", []
    try:
        with open(os.path.join(v2[0][0], "cgroup.controllers")) as f:
            on_v2 = f.read().split()
    except OSError:
        on_v2 = []
    return "hybrid (v1 + cgroup2 at " + v2[0][0] + ")", on_v2


def hugetlb_on_v1() -> bool:
    return any(fs == "cgroup" and "hugetlb" in opts for _mnt, fs, opts in cgroup_mounts())


def hugetlb_where() -> str:
    """Where hugetlb is now: on cgroup2, on a mounted v1 hierarchy, on a v1 hierarchy that someone
    unmounted while it still had cgroups (the kernel keeps it until they are gone; crun is fine
    with that), or nowhere."""
    kind, on_v2 = describe()
    if "hugetlb" in on_v2:
        return "hugetlb on cgroup2"
    if hugetlb_on_v1():
        return "hugetlb on v1"
    try:
        with open("/proc/cgroups") as f:
            for line in f:
                name, hier = line.split()[:2]
                if name == "hugetlb" and hier != "0":
                    return "hugetlb on an unmounted v1 hierarchy"
    except (OSError, ValueError):
        pass
    return "hugetlb on cgroup2" if kind.startswith("cgroup v2") else "no hugetlb"


def _cgroup_dirs(top: str) -> set[str]:
    return {dirpath for dirpath, _dirs, _files in os.walk(top)} - {top}


def _in_use_on_v2(controller: str) -> bool:
    v2 = [m for m, fs, _o in cgroup_mounts() if fs == "cgroup2"]
    try:
        with open(os.path.join(v2[0], "cgroup.subtree_control")) as f:
            return controller in f.read().split()
    except (OSError, IndexError):
        return False


class _Stop(BaseException):
    pass


def _raise_stop(signum, _frame):
    raise _Stop(f"signal {signum}")


@contextmanager
def crun_layout(allowed: bool = True):
    """Yield a sentence saying which layout the rows run on; undo our own change on the way out."""
    kind, on_v2 = describe()
    if "hugetlb" not in on_v2:
        where = hugetlb_where()
        if where == "hugetlb on v1":
            where += ", found mounted by someone else: left as found"
        yield f"{kind}; {where}; no controller on the cgroup2 side"
        return
    if not allowed:
        yield f"{kind}; hugetlb on cgroup2 (crun 1.8.1 refuses this host)"
        return
    made_dir = not os.path.isdir(HUGETLB)
    old = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    mounted = False
    try:
        os.makedirs(HUGETLB, exist_ok=True)
        p = subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB],
                           capture_output=True, text=True)
        if p.returncode != 0:
            # Remove our empty mount point now, not at the end: clients that walk /sys/fs/cgroup
            # (podman's cgroupfs manager) would take it for a v1 hierarchy and write into the tmpfs.
            if made_dir:
                os.rmdir(HUGETLB)
                made_dir = False
            why = p.stderr.strip().splitlines()[0] if p.stderr.strip() else f"exit {p.returncode}"
            if _in_use_on_v2("hugetlb"):
                why = ("hugetlb is enabled in a cgroup2 subtree_control (in use there), so the kernel "
                       "will not move it")
            yield f"{kind}; hugetlb on cgroup2 (moving it to v1 failed: {why})"
            return
        mounted = True
        before = _cgroup_dirs(HUGETLB)
        yield f"{kind}; hugetlb moved to v1 by the benchmark for this run (put back afterwards)"
    finally:
        try:
            if mounted:
                # Our containers are deleted by now; podman's cgroupfs manager also leaves
                # libpod_parent/... in every v1 hierarchy it sees. A v1 hierarchy that still has
                # cgroups outlives its umount and keeps hugetlb off cgroup2, so remove the empty
                # ones made during the run (deepest first; one still in use stays, EBUSY).
                for d in sorted(_cgroup_dirs(HUGETLB) - before, key=len, reverse=True):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
                subprocess.run(["umount", HUGETLB], check=False)
                for _ in range(20):
                    if "hugetlb" in describe()[1]:
                        break
                    time.sleep(0.25)
                else:
                    # Seen here: the detached hierarchy lingered (its last cgroup gone, but the
                    # kill on umount missed); a second mount and umount of it releases it.
                    if subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB],
                                      check=False).returncode == 0:
                        subprocess.run(["umount", HUGETLB], check=False)
                        time.sleep(1)
                if "hugetlb" not in describe()[1]:
                    print("benchmarks: hugetlb did not go back to cgroup2 (cgroups still in its v1 "
                          "hierarchy?); see /proc/cgroups", file=sys.stderr)
            if made_dir and not os.path.ismount(HUGETLB):
                try:
                    os.rmdir(HUGETLB)
                except OSError:
                    pass
        finally:
            for s, h in old.items():
                signal.signal(s, h)
