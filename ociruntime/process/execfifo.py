"""The exec fifo that holds a created container until `start` (crun's direction).

The container's init keeps the fifo open for *reading* and waits in poll(); `start` opens it
O_WRONLY|O_NONBLOCK, which fails with ENXIO when no reader exists, i.e. when init has died:
start learns it without racing on /proc. poll() on a fifo opened O_NONBLOCK does not report
POLLHUP before a first writer came and went (the kernel compares writer counters), so init
sleeps until start writes.
"""

from __future__ import annotations

import errno
import os
import select

from ..errors import PyociError


def create(path: str) -> int:
    """Make the fifo and return a read fd for init (opened now: opening later would block)."""
    os.mkfifo(path, 0o600)
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


def wait(fd: int) -> None:
    """In init: block until start writes."""
    p = select.poll()
    p.register(fd, select.POLLIN)
    while True:
        try:
            p.poll()
        except InterruptedError:
            continue
        try:
            if os.read(fd, 1):
                break
        except BlockingIOError:
            continue
    os.close(fd)


def release(path: str) -> None:
    """In start: wake init; raise if it is gone."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise PyociError("cannot start a container whose init process has exited") from None
        if e.errno == errno.ENOENT:
            raise PyociError("cannot start an already running container") from None
        raise
    try:
        os.unlink(path)
        os.write(fd, b"0")
    finally:
        os.close(fd)
