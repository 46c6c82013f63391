"""Where an exec'd process goes in the container's cgroups, and getting it there without the
kernel's global lock: born in the cgroup2 directory (clone3 CLONE_INTO_CGROUP), then moving
itself into each v1 hierarchy through its `tasks` file."""

from __future__ import annotations

import os

from ..errors import PyociError
from . import signals


def parse_cgroup_args(args: tuple[str, ...]) -> dict[str, str]:
    """--cgroup [<controller>[,<controller>...]:]<path> as runc's getSubCgroupPaths: {ctrl or "": path}."""
    paths: dict[str, str] = {}
    for a in args:
        parts = a.split(":")
        if len(parts) > 2:
            raise PyociError(f"invalid --cgroup argument: {a}")
        if len(parts) == 1:
            if len(args) != 1:
                raise PyociError(f"invalid --cgroup argument: {a} (missing <controller>: prefix)")
            paths[""] = a
            continue
        for ctrl in parts[0].split(","):
            if not ctrl:
                raise PyociError(f"invalid --cgroup argument: {a} (empty <controller> prefix)")
            if ctrl in paths:
                raise PyociError(f"invalid --cgroup argument(s): controller {ctrl} specified multiple times")
            paths[ctrl] = parts[1]
    return paths


class CgroupPlan:
    """Where the exec'd process goes: a directory per v1 hierarchy, the cgroup2 one (if any), and
    which of them holds the freezer (v1 freezer.state, else cgroup2's cgroup.freeze)."""

    __slots__ = ("freezer", "unified", "v1")

    def __init__(self, v1: list[str], unified: str | None, freezer: str | None) -> None:
        self.v1, self.unified, self.freezer = v1, unified, freezer


def cgroup_plan(d: dict, subs: dict[str, str]) -> CgroupPlan:
    """The container's own directories, or a sub-cgroup of one where --cgroup names it for a
    controller of that hierarchy ("" = every hierarchy), checked to exist and stay inside.
    d is the cgroup manager's describe() kept in state.json (read directly: importing the
    manager to reopen it would cost more than this needs)."""
    hier: list[tuple[str, set[str], bool]] = []
    for name, base in (d.get("v1") or {}).items():
        ctrls = set((d.get("v1opts") or {}).get(name, name).split(","))
        ctrls |= {c[5:] for c in ctrls if c.startswith("name=")}
        hier.append((base, ctrls, False))
    if d.get("unified"):
        hier.append((d["unified"], set(d.get("uctl") or ()) | {"unified"}, True))
    known = set().union(*(c for _, c, _ in hier)) if hier else set()
    for ctrl in subs:
        if ctrl and ctrl not in known:
            raise PyociError(f"unknown controller {ctrl} in --cgroup argument")
    freeze_dir = os.path.dirname(d["freeze"]) if d.get("freeze") else None
    plan = CgroupPlan([], None, None)
    for base, ctrls, unified in hier:
        sub = subs.get("")
        for c in ctrls:
            if c in subs:
                if sub is not None and sub != subs[c]:
                    raise PyociError(f"conflicting --cgroup paths for the controllers of {base}")
                sub = subs[c]
        path = base
        if sub is not None:
            path = os.path.normpath(os.path.join(base, sub.lstrip("/")))
            if path != base and not path.startswith(base + "/"):
                raise PyociError(f"bad sub cgroup path: {sub}")
            if not os.path.isdir(path):
                raise PyociError(f"--cgroup {sub}: no such cgroup {path}")
        if unified:
            plan.unified = path
        else:
            plan.v1.append(path)
        if base == freeze_dir:
            plan.freezer = path
    return plan


def open_cgroup_file(d: str, name: str) -> tuple[str, int]:
    path = os.path.join(d, name)
    try:
        return path, os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise PyociError(f"error adding the process to cgroups: {path}: {os.strerror(e.errno).lower()}") from None


def join_cgroup(path: str, fd: int) -> None:
    """In P2: move ourselves ("0") through an fd the runtime opened (the opener's rights count)."""
    try:
        os.write(fd, b"0")
    except OSError as e:
        # runc: "error adding pid N to cgroups: failed to write N: openat2 <path>: ..."
        pid = os.getpid()
        raise OSError(e.errno, f"error adding pid {pid} to cgroups: failed to write {pid}: {path}: "
                      f"{os.strerror(e.errno).lower()}") from None
    finally:
        os.close(fd)


CLONE_INTO_CGROUP = 0x200000000
SYS_CLONE3 = 435        # the same on every architecture (the unified table)


def clone_into_cgroup(cgroup_fd: int) -> int:
    """fork(), but the child starts in the cgroup2 directory cgroup_fd: clone3(CLONE_INTO_CGROUP),
    Linux 5.7. Moving a running process instead (a cgroup.procs write) takes the global
    cgroup_threadgroup_rwsem for writing, an RCU grace period: 10-20 ms here, most of an exec.

    Called through PyDLL so the GIL stays held: the runtime is single-threaded and the child, like
    os.fork()'s, resumes with the interpreter in a consistent state. What os.fork() adds
    (PyOS_AfterFork_Child) re-initialises other threads' state and at-fork hooks, of which this
    process has none; the child only runs our code and then execve()s or _exit()s."""
    import ctypes

    class CloneArgs(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint64) for n in ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal",
                                                   "stack", "stack_size", "tls", "set_tid", "set_tid_size",
                                                   "cgroup")]

    args = CloneArgs(flags=CLONE_INTO_CGROUP, exit_signal=signals.SIGCHLD, cgroup=cgroup_fd)
    syscall = ctypes.PyDLL(None, use_errno=True).syscall
    syscall.restype = ctypes.c_long
    pid = syscall(ctypes.c_long(SYS_CLONE3), ctypes.byref(args), ctypes.c_long(ctypes.sizeof(args)))
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone3: {os.strerror(err)}")
    return pid
