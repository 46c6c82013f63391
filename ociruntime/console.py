"""The container's terminal: a pty opened inside the container, its master sent to --console-socket.

What conmon and containerd's shim expect (CLIENTS.md): a SOCK_STREAM unix socket receiving ONE
message with exactly one fd (the master) in SCM_RIGHTS and a non-empty payload; then we close
our copies. The slave becomes the controlling terminal and fds 0-2 of the process.
"""

from __future__ import annotations

import os
import stat

from .errors import PyociError


def connect(path: str) -> int:
    """In the runtime, before forking: connect to the console socket; the fd crosses the fork."""
    import socket

    try:
        st = os.stat(path)
    except OSError as e:
        raise PyociError(f"console socket {path}: {(e.strerror or str(e)).lower()}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise PyociError(f"console socket {path}: not a unix socket")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise PyociError(f"console socket {path}: {(e.strerror or str(e)).lower()}") from None
    return s.detach()


def open_pty() -> tuple[int, str]:
    """Open a pty pair in the current /dev/pts (the container's, after pivot_root)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(master, termios.TIOCSPTLCK, struct.pack("i", 0))   # unlockpt
    n = struct.unpack("I", fcntl.ioctl(master, termios.TIOCGPTN, b"\0" * 4))[0]
    return master, f"/dev/pts/{n}"


def set_size(fd: int, height: int, width: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def become_controlling(slave_path: str) -> None:
    """Make the slave our controlling terminal and stdio (we are a session leader already)."""
    import fcntl
    import termios

    fd = os.open(slave_path, os.O_RDWR)
    fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def send_master(sock_fd: int, master: int, name: str = "/dev/ptmx") -> None:
    import socket

    s = socket.socket(fileno=sock_fd)
    try:
        socket.send_fds(s, [name.encode()], [master])
    finally:
        s.close()


def setup_in_container(sock_fd: int, size: tuple[int, int] | None) -> None:
    master, slave = open_pty()
    try:
        if size:
            set_size(master, *size)
        become_controlling(slave)
        send_master(sock_fd, master)
    finally:
        os.close(master)
