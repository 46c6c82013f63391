"""Terminal helpers for the tests: a console-socket receiver that checks what conmon and the shim
rely on (CLIENTS.md), and a pseudo-terminal to drive a foreground `run`/`exec -t` through.

ConsoleSocket: a SOCK_STREAM unix socket served by a thread. Each connection must deliver exactly
one message carrying exactly one fd (SCM_RIGHTS) and a non-empty payload, and then be closed by
the runtime; anything else is recorded in `errors` (check() raises them).

PtyProcess: runs argv with a new pty as its controlling terminal and stdio, like a shell in a
terminal emulator would; the test reads and writes the master side and may resize it.
"""

from __future__ import annotations

import array
import fcntl
import os
import select
import socket
import struct
import termios
import threading
import time


class ConsoleSocket:
    def __init__(self, path: str) -> None:
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.masters: list[int] = []
        self.payloads: list[bytes] = []
        self.errors: list[str] = []
        self._got = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return          # closed
            with conn:
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        fds = array.array("i")
        try:
            msg, anc, flags, _ = conn.recvmsg(4096, socket.CMSG_SPACE(16 * fds.itemsize))
        except OSError as e:
            self._error(f"recvmsg: {e}")
            return
        n_msgs = 0
        for level, kind, data in anc:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS):
                n_msgs += 1
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        fds_list = list(fds)
        problems = []
        if flags & socket.MSG_CTRUNC:
            problems.append("control data truncated (too many fds)")
        if n_msgs != 1 or len(fds_list) != 1:
            problems.append(f"expected exactly one fd in one SCM_RIGHTS message, got {fds_list} in {n_msgs}")
        if not msg:
            problems.append("empty payload (conmon and the shim need at least one byte)")
        # The runtime then closes the connection: nothing more may arrive, EOF must follow.
        try:
            more, anc2, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(16 * fds.itemsize))
            if more or anc2:
                problems.append(f"a second message followed: {more!r}")
        except OSError as e:
            problems.append(f"no EOF after the message: {e}")
        if problems:
            for fd in fds_list:
                os.close(fd)
            self._error("; ".join(problems))
            return
        with self._got:
            self.masters.append(fds_list[0])
            self.payloads.append(msg)
            self._got.notify_all()

    def _error(self, text: str) -> None:
        with self._got:
            self.errors.append(text)
            self._got.notify_all()

    def master(self, timeout: float = 20) -> int:
        """The next pty master received (waits for it); raises the receiver's complaints."""
        deadline = time.monotonic() + timeout
        with self._got:
            while not self.masters and not self.errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no pty master arrived on {self.path}")
                self._got.wait(left)
            self.check()
            return self.masters.pop(0)

    def check(self) -> None:
        if self.errors:
            raise AssertionError("console socket: " + " | ".join(self.errors))

    def close(self) -> None:
        self.srv.close()
        for fd in self.masters:
            os.close(fd)
        self.masters.clear()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_until(fd: int, needle: bytes, timeout: float = 20, buf: bytearray | None = None) -> bytes:
    """Read fd until needle shows up; return everything read (raises with it on timeout/EOF)."""
    out = buf if buf is not None else bytearray()
    deadline = time.monotonic() + timeout
    while needle not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {needle!r}; got {bytes(out)!r}")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            raise AssertionError(f"EOF before {needle!r}; got {bytes(out)!r}")
        out += data
    return bytes(out)


class PtyProcess:
    """argv in a session of its own on a fresh pty (controlling terminal, fds 0-2)."""

    def __init__(self, argv: list[str], rows: int = 24, cols: int = 80, env: dict | None = None) -> None:
        self.master, self.slave = os.openpty()
        set_winsize(self.master, rows, cols)
        self.slave_name = os.ttyname(self.slave)
        self.out = bytearray()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                fd = os.open(self.slave_name, os.O_RDWR)   # first terminal opened: our ctty
                fcntl.ioctl(fd, termios.TIOCSCTTY, 0)
                for target in (0, 1, 2):
                    os.dup2(fd, target)
                os.closerange(3, 1024)
                os.execvpe(argv[0], argv, env if env is not None else os.environ)
            finally:
                os._exit(127)
        self.pid = pid
        self.status: int | None = None

    def expect(self, needle: bytes, timeout: float = 20) -> bytes:
        return read_until(self.master, needle, timeout, self.out)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def resize(self, rows: int, cols: int) -> None:
        # The kernel sends SIGWINCH to the terminal's foreground process group: the runtime.
        set_winsize(self.master, rows, cols)

    def termios(self) -> list:
        return termios.tcgetattr(self.slave)

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.pid} still running; output {bytes(self.out)!r}")
            # keep draining so the runtime never blocks on a full pty
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    pass
        return self.status

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
            self.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def _prctl(option: int, arg: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")


PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans():
    """Generator for a fixture: make the test process a subreaper (as conmon and the shim are), so
    a detached exec'd process is re-parented to us and not to PID 1 (which here never reaps);
    at the end reap whatever we adopted. Request it before `runtime`, so the containers are
    deleted first."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        _prctl(PR_SET_CHILD_SUBREAPER, 0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.02)
