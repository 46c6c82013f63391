"""Namespaces: spec names <-> CLONE_* flags, joining by path and creating new ones.

Joining follows the order that works for an unprivileged-looking child of a root runtime:
the user namespace first (it decides what the others may be), the mount namespace last
(after it, host paths such as /proc/<pid>/ns/* may no longer resolve).
"""

from __future__ import annotations

import os

from .syscalls import consts as C

FLAGS = {
    "user": C.CLONE_NEWUSER, "pid": C.CLONE_NEWPID, "network": C.CLONE_NEWNET, "ipc": C.CLONE_NEWIPC,
    "uts": C.CLONE_NEWUTS, "mount": C.CLONE_NEWNS, "cgroup": C.CLONE_NEWCGROUP, "time": C.CLONE_NEWTIME,
}
# /proc/<pid>/ns/<name> for each spec type
PROC_NAMES = {"user": "user", "pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
              "cgroup": "cgroup", "time": "time"}
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


def join(sc, namespaces, types: tuple[str, ...] = JOIN_ORDER) -> None:
    """setns() into each namespace of `namespaces` that has a path, in JOIN_ORDER."""
    by_type = {ns.type: ns for ns in namespaces if ns.path}
    for t in types:
        ns = by_type.get(t)
        if ns is None:
            continue
        fd = os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.setns(fd, FLAGS[t])
        except OSError as e:
            raise OSError(e.errno, f"joining {t} namespace {ns.path}: {os.strerror(e.errno)}") from None
        finally:
            os.close(fd)


def new_flags(namespaces, exclude: tuple[str, ...] = ()) -> int:
    """CLONE_* flags of the namespaces to create (no path), minus `exclude`."""
    flags = 0
    for ns in namespaces:
        if not ns.path and ns.type not in exclude:
            flags |= FLAGS[ns.type]
    return flags


def write_id_maps(pid: int, uid_maps, gid_maps) -> None:
    """In the runtime (root in the parent user namespace): write the child's uid_map and gid_map.
    As root we may map any range, and setgroups stays allowed (only an unprivileged writer must
    deny it first)."""
    for name, maps in (("uid_map", uid_maps), ("gid_map", gid_maps)):
        text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)
        try:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(text)
        except OSError as e:
            raise OSError(e.errno, f"writing {name} {text.strip()!r}: {os.strerror(e.errno)}") from None


def write_time_offsets(offsets: dict) -> None:
    """After unshare(CLONE_NEWTIME), before the first process enters it: the clock offsets."""
    lines = "".join(f"{clock} {v.get('secs', 0)} {v.get('nanosecs', 0)}\n"
                    for clock, v in offsets.items())
    with open("/proc/self/timens_offsets", "w") as f:
        f.write(lines)
