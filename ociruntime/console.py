"""The container's terminal: a pty opened inside the container, its master sent to --console-socket.

What conmon and containerd's shim expect (CLIENTS.md): a SOCK_STREAM unix socket receiving ONE
message with exactly one fd (the master) in SCM_RIGHTS and a non-empty payload (runc sends the
master's name, "/dev/ptmx"); then we close our copies. The slave becomes the controlling
terminal and fds 0-2 of the process.

Through `_socket`, not `socket`: the latter builds IntEnums at import (~3 ms). The C modules
are imported up front: init and exec use them after entering the container's mount namespace.
"""

from __future__ import annotations

import _socket
import fcntl
import os
import stat
import struct
import termios

from .errors import PyociError

PAYLOAD = b"/dev/ptmx"
_SCM = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS)
# Python 3.11's termios lacks these (asm-generic encoding: x86_64, arm64, riscv64).
TIOCSPTLCK = getattr(termios, "TIOCSPTLCK", 0x40045431)    # _IOW('T', 0x31, int): unlockpt
TIOCGPTN = getattr(termios, "TIOCGPTN", 0x80045430)        # _IOR('T', 0x30, unsigned int): ptsname


def connect(path: str) -> int:
    """In the runtime, before forking: connect to the console socket; the fd crosses the fork."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise PyociError(f"console socket {path}: {(e.strerror or str(e)).lower()}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise PyociError(f"console socket {path}: not a unix socket")
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise PyociError(f"console socket {path}: {(e.strerror or str(e)).lower()}") from None
    return s.detach()


def pair() -> tuple[int, int]:
    """(runtime end, container end) of a private console socket, for a foreground terminal."""
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    return a.detach(), b.detach()


def open_pty() -> tuple[int, str]:
    """Open a pty pair in the current /dev/pts (the container's, after pivot_root or setns)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))   # unlockpt
    n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
    return master, f"/dev/pts/{n}"


def set_size(fd: int, height: int, width: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def get_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal fd, or None if it is not one (or reports 0x0)."""
    try:
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


def become_controlling(slave_path: str) -> None:
    """Make the slave our controlling terminal and stdio (we are a session leader already)."""
    fd = os.open(slave_path, os.O_RDWR)
    fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def send_master(sock_fd: int, master: int) -> None:
    """One sendmsg: PAYLOAD with the master as the only fd. The caller then closes sock_fd."""
    s = _socket.socket(fileno=sock_fd)
    try:
        s.sendmsg([PAYLOAD], [(*_SCM, struct.pack("i", master))])
    finally:
        s.detach()


def receive(sock_fd: int, timeout: float = 10.0) -> int:
    """The runtime's side of a console socket pair: the one fd of the first message."""
    s = _socket.socket(fileno=sock_fd)
    try:
        s.settimeout(timeout)
        msg, anc, flags, _ = s.recvmsg(4096, _socket.CMSG_SPACE(4 * 4))
    except OSError as e:
        raise PyociError(f"receiving the console's pty master: {(e.strerror or str(e)).lower()}") from None
    finally:
        s.detach()
    fds = [fd for level, kind, data in anc if (level, kind) == _SCM
           for fd in struct.unpack(f"{len(data) // 4}i", data[:len(data) - len(data) % 4])]
    if len(fds) != 1 or not msg or flags & _socket.MSG_CTRUNC:
        for fd in fds:
            os.close(fd)
        raise PyociError(f"console socket: expected one pty master, got {len(fds)} fd(s)")
    os.set_inheritable(fds[0], False)
    return fds[0]


def setup_in_container(sock_fd: int, size: tuple[int, int] | None) -> None:
    """Open the pty, size it, make the slave our terminal and stdio, send the master over sock_fd.
    The caller closes sock_fd (init and exec do, right after)."""
    master, slave = open_pty()
    try:
        if size:
            set_size(master, *size)
        become_controlling(slave)
        send_master(sock_fd, master)
    finally:
        os.close(master)
