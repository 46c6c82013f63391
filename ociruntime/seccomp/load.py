"""The compiled filter as plain data, and the container side: seccomp(2) without libseccomp.

A Filter is made in the runtime (compile.py) and inherited by the container's init across
fork(); init only needs the bytes, the flags and the syscall number. The notify listener fd
goes to the agent from the runtime, never from init, whose own filter may block sendmsg:
runc fetches it with pidfd_getfd(2) for the same reason (take_listener_fd below).
"""

from __future__ import annotations

import os

from .names import FLAG_NEW_LISTENER, SECCOMP_SET_MODE_FILTER

PIDFD_GETFD_NR = 438     # same number on every architecture (the unified table, Linux 5.6)


_libc_syscall = None


def _syscall(nr: int, *args: int | object) -> int:
    """syscall(2) returning -errno on failure (no OSError: the caller words the message)."""
    import ctypes

    global _libc_syscall
    if _libc_syscall is None:
        _libc_syscall = ctypes.CDLL(None, use_errno=True).syscall
        _libc_syscall.restype = ctypes.c_long
    conv = [a if not isinstance(a, int) else ctypes.c_long(a) for a in args]
    ret = _libc_syscall(ctypes.c_long(nr), *conv)
    if ret < 0:
        return -ctypes.get_errno()
    return ret


class Filter:
    """A compiled linux.seccomp: the BPF program (struct sock_filter[] in host byte order)."""

    __slots__ = ("bpf", "flags", "listener_path", "listener_metadata", "seccomp_nr")

    def __init__(self, bpf: bytes, flags: int, listener_path: str | None = None,
                 listener_metadata: str | None = None, seccomp_nr: int = 317) -> None:
        self.bpf = bpf
        self.flags = flags
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata
        self.seccomp_nr = seccomp_nr       # __NR_seccomp of the native arch, resolved by libseccomp

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for k, v in zip(self.__slots__, state):
            setattr(self, k, v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and self.__getstate__() == other.__getstate__()

    def __repr__(self) -> str:
        return (f"Filter({len(self.bpf) // 8} insns, flags={self.flags:#x}, "
                f"listener_path={self.listener_path!r})")

    @property
    def wants_listener(self) -> bool:
        """True when load() returns a notify fd that must reach listener_path."""
        return bool(self.flags & FLAG_NEW_LISTENER)

    def load(self) -> int | None:
        """Install the filter on the calling thread (TSYNC: on all threads); return the notify fd.

        Needs no_new_privs or CAP_SYS_ADMIN (kernel's seccomp_prepare_filter). The fd the
        kernel returns is O_CLOEXEC; init must close it before execve anyway, once the runtime
        has taken its copy, so the container cannot answer its own notifications.
        """
        import ctypes

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        buf = ctypes.create_string_buffer(self.bpf, len(self.bpf))
        prog = SockFprog(len(self.bpf) // 8, ctypes.addressof(buf))
        ret = _syscall(self.seccomp_nr, SECCOMP_SET_MODE_FILTER, self.flags, ctypes.byref(prog))
        if ret < 0:
            raise OSError(-ret, f"seccomp(SECCOMP_SET_MODE_FILTER, {self.flags:#x}): "
                                f"{os.strerror(-ret).lower()}")
        return ret if self.flags & FLAG_NEW_LISTENER else None

    def send_listener(self, fd: int, state: dict, pid: int | None = None) -> None:
        """Send the containerProcessState (config-linux.md) with fd as "seccompFd" in SCM_RIGHTS
        over a new SOCK_STREAM connection to listener_path, then close it: one state per
        connection, as the spec requires. `pid` is the filtered process (default state["pid"];
        for `exec` it is the exec'd process). Raises SetupError naming the listener path."""
        import json
        import socket

        from ..errors import SetupError

        msg: dict = {"ociVersion": state.get("ociVersion", ""), "fds": ["seccompFd"],
                     "pid": state.get("pid", 0) if pid is None else pid}
        if self.listener_metadata:
            msg["metadata"] = self.listener_metadata
        msg["state"] = state
        data = json.dumps(msg).encode()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.connect(self.listener_path)
            # The fds go with the first sendmsg only (spec); the rest of a long state follows.
            n = socket.send_fds(s, [data], [fd])
            if n < len(data):
                s.sendall(data[n:])
        except OSError as e:
            raise SetupError(f"linux.seccomp.listenerPath {self.listener_path}: sending the seccomp fd: "
                             f"{(e.strerror or str(e)).lower()}") from e
        finally:
            s.close()


def take_listener_fd(pid: int, remote_fd: int) -> int:
    """Duplicate fd number `remote_fd` of process `pid` into this process (pidfd_getfd(2),
    Linux 5.6, ptrace-attach rights: root has them). The copy is O_CLOEXEC."""
    pidfd = os.pidfd_open(pid)
    try:
        ret = _syscall(PIDFD_GETFD_NR, pidfd, remote_fd, 0)
    finally:
        os.close(pidfd)
    if ret < 0:
        raise OSError(-ret, f"pidfd_getfd(pid {pid}, fd {remote_fd}): {os.strerror(-ret).lower()}")
    return ret


def kernel_flag_supported(seccomp_nr: int, flag: int) -> bool:
    """Probe as libseccomp does: seccomp(SET_MODE_FILTER, flag, NULL) fails with EFAULT when the
    kernel knows the flag (it checks flags before copying the program) and EINVAL when not."""
    if flag & (1 << 5):                    # WAIT_KILLABLE_RECV is only valid with NEW_LISTENER
        flag |= FLAG_NEW_LISTENER
    return _syscall(seccomp_nr, SECCOMP_SET_MODE_FILTER, flag, None) == -14   # -EFAULT
