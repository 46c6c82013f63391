"""The exec fifo that holds a created container until `start` (crun's direction), and the status
fifo through which `start` learns that the user's process really started.

exec.fifo: init keeps it open for *reading* and waits in poll(); `start` opens it
O_WRONLY|O_NONBLOCK, which fails with ENXIO when no reader exists, i.e. when init has died:
start learns it without racing on /proc. poll() on a fifo opened O_NONBLOCK does not report
POLLHUP before a first writer came and went, so init sleeps until start writes.

exec.status: init holds it open O_RDWR|O_CLOEXEC. After start's write, init runs the
startContainer hooks and execs; the exec closes the fd, so start, which opened it for reading
before writing, reads EOF. If a hook or the exec fails, init writes why first. So `start`
returns only once the user's process runs (runtime.md: startContainer hooks, then the program,
then poststart) and fails when a startContainer hook does.
"""

from __future__ import annotations

import errno
import os
import select

from ..errors import InitError, PyociError

STATUS = "exec.status"


def create(fifo_path: str) -> tuple[int, int]:
    """Make both fifos; return (exec fifo read fd, status fd) for init, opened now: opening
    later could block."""
    status_path = os.path.join(os.path.dirname(fifo_path), STATUS)
    os.mkfifo(fifo_path, 0o600)
    os.mkfifo(status_path, 0o600)
    return (os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC),
            os.open(status_path, os.O_RDWR | os.O_CLOEXEC))


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


def report(status_fd: int, message: str) -> None:
    """In init, when something between start and execve failed."""
    data = message.encode(errors="replace")[:4000] or b"failed"
    try:
        os.write(status_fd, data)
    except OSError:
        pass


def release(fifo_path: str) -> None:
    """In start: wake init, then wait until it has exec'd the user's process (or say why not)."""
    status_path = os.path.join(os.path.dirname(fifo_path), STATUS)
    try:
        # Opened before waking init, while init still holds its end: its exec then reads as EOF.
        status = os.open(status_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        status = -1
    try:
        try:
            fd = os.open(fifo_path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            if e.errno == errno.ENXIO:
                raise PyociError("cannot start a container whose init process has exited") from None
            if e.errno == errno.ENOENT:
                raise PyociError("cannot start an already running container") from None
            raise
        try:
            os.unlink(fifo_path)
            os.write(fd, b"0")
        finally:
            os.close(fd)
        if status < 0:
            return
        os.set_blocking(status, True)
        message = b""
        while True:
            chunk = os.read(status, 4096)
            if not chunk:
                break
            message += chunk
    finally:
        if status >= 0:
            os.close(status)
            try:
                os.unlink(status_path)
            except FileNotFoundError:
                pass
    if message:
        raise InitError(message.decode(errors="replace"))
