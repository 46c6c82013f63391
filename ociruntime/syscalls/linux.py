"""libc through ctypes. Every call raises OSError(errno, strerror, path) on failure."""

from __future__ import annotations

import ctypes
import os

from . import consts as C

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _sys(nr: int, *args: object) -> int:
    # syscall(2) is variadic: pass every integer as a full long, never a C int.
    return _syscall(ctypes.c_long(nr), *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))


def _check(ret: int, what: str, path: str | None = None) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_CAP_V3 = 0x20080522


class _SchedAttr(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("sched_policy", ctypes.c_uint32), ("sched_flags", ctypes.c_uint64),
                ("sched_nice", ctypes.c_int32), ("sched_priority", ctypes.c_uint32),
                ("sched_runtime", ctypes.c_uint64), ("sched_deadline", ctypes.c_uint64),
                ("sched_period", ctypes.c_uint64), ("sched_util_min", ctypes.c_uint32),
                ("sched_util_max", ctypes.c_uint32)]


class LinuxSyscalls:
    """The real kernel. Methods mirror the syscalls; arguments are Python types."""

    def mount(self, source: str | None, target: str, fstype: str | None = None,
              flags: int = 0, data: str | None = None) -> None:
        _check(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
               "mount", target)

    def umount2(self, target: str, flags: int = 0) -> None:
        _check(_libc.umount2(_b(target), flags), "umount", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        _check(_sys(C.SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), "pivot_root", new_root)

    def unshare(self, flags: int) -> None:
        _check(_libc.unshare(flags), "unshare")

    def setns(self, fd: int, nstype: int = 0) -> None:
        _check(_libc.setns(fd, nstype), "setns")

    def sethostname(self, name: str) -> None:
        b = name.encode()
        _check(_libc.sethostname(b, len(b)), "sethostname")

    def setdomainname(self, name: str) -> None:
        b = name.encode()
        _check(_libc.setdomainname(b, len(b)), "setdomainname")

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return _check(_libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                                  ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)), "prctl")

    def set_name(self, name: str) -> None:
        _libc.prctl(C.PR_SET_NAME, name.encode()[:15], 0, 0, 0)

    def capget(self) -> tuple[int, int, int]:
        hdr = _CapHeader(_CAP_V3, 0)
        data = (_CapData * 2)()
        _check(_sys(C.SYS_CAPGET, ctypes.byref(hdr), data), "capget")
        join = lambda f: getattr(data[0], f) | (getattr(data[1], f) << 32)  # noqa: E731
        return join("effective"), join("permitted"), join("inheritable")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        hdr = _CapHeader(_CAP_V3, 0)
        data = (_CapData * 2)()
        for i in (0, 1):
            shift = 32 * i
            data[i].effective = (effective >> shift) & 0xFFFFFFFF
            data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
            data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
        _check(_sys(C.SYS_CAPSET, ctypes.byref(hdr), data), "capset")

    def keyctl(self, op: int, *args: object) -> int:
        return _check(_sys(C.SYS_KEYCTL, op, *args), "keyctl")

    def openat2(self, dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
        how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
        return _check(_sys(C.SYS_OPENAT2, dirfd, _b(path), ctypes.byref(how),
                               ctypes.sizeof(how)), "openat2", path)

    def mount_setattr(self, dirfd: int, path: str, flags: int, attr_set: int = 0,
                      attr_clr: int = 0, propagation: int = 0, userns_fd: int = 0) -> None:
        attr = _MountAttr(attr_set, attr_clr, propagation, userns_fd)
        _check(_sys(C.SYS_MOUNT_SETATTR, dirfd, _b(path), flags, ctypes.byref(attr),
                        ctypes.sizeof(attr)), "mount_setattr", path)

    def open_tree(self, dirfd: int, path: str, flags: int) -> int:
        return _check(_sys(C.SYS_OPEN_TREE, dirfd, _b(path), flags), "open_tree", path)

    def move_mount(self, from_fd: int, from_path: str, to_fd: int, to_path: str, flags: int) -> None:
        _check(_sys(C.SYS_MOVE_MOUNT, from_fd, _b(from_path), to_fd, _b(to_path), flags),
               "move_mount", to_path)

    def close_range(self, first: int, last: int, flags: int) -> None:
        _check(_sys(C.SYS_CLOSE_RANGE, first, last, flags),
               "close_range")

    def sched_setattr(self, pid: int, policy: int, flags: int = 0, nice: int = 0, priority: int = 0,
                      runtime: int = 0, deadline: int = 0, period: int = 0, util_min: int = 0,
                      util_max: int = 0) -> None:
        attr = _SchedAttr(ctypes.sizeof(_SchedAttr), policy, flags, nice, priority, runtime, deadline, period,
                          util_min, util_max)
        _check(_sys(C.SYS_SCHED_SETATTR, pid, ctypes.byref(attr), 0), "sched_setattr")

    def ioprio_set(self, which: int, who: int, ioprio: int) -> None:
        _check(_sys(C.SYS_IOPRIO_SET, which, who, ioprio), "ioprio_set")

    def set_mempolicy(self, mode: int, nodes: tuple[int, ...] = ()) -> None:
        """nodes are NUMA node numbers; an empty tuple passes a NULL mask (MPOL_DEFAULT, MPOL_LOCAL,
        MPOL_PREFERRED for local allocation)."""
        if not nodes:
            _check(_sys(C.SYS_SET_MEMPOLICY, mode, None, 0), "set_mempolicy")
            return
        bits = 8 * ctypes.sizeof(ctypes.c_ulong)
        words = (ctypes.c_ulong * (max(nodes) // bits + 1))()
        for n in nodes:
            words[n // bits] |= 1 << (n % bits)
        # The kernel reads maxnode - 1 bits (mm/mempolicy.c get_nodes): pass one more than we fill.
        _check(_sys(C.SYS_SET_MEMPOLICY, mode, words, len(words) * bits + 1), "set_mempolicy")

    def personality(self, persona: int) -> int:
        """Set the execution domain; returns the previous one (C.PERSONALITY_QUERY only reads it)."""
        return _check(_libc.personality(ctypes.c_ulong(persona)), "personality")

    def fstatfs_type(self, fd: int) -> int:
        """f_type of the filesystem fd is on (e.g. C.PROC_SUPER_MAGIC)."""
        buf = (ctypes.c_long * 16)()  # struct statfs is 120 bytes on 64-bit; f_type comes first
        _check(_libc.fstatfs(fd, buf), "fstatfs")
        return buf[0] & 0xFFFFFFFF


SYSCALLS = LinuxSyscalls()
