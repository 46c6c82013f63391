"""The foreground side of `run` and `exec`: wait for the process, forward signals, and, with a
terminal and no --console-socket, relay between our own stdio and the pty master, like runc.

One poll() loop. Signals reach it through signal.set_wakeup_fd (the handlers do nothing; the C
handler writes the signal number into a pipe), so there is no race between a signal and poll:
SIGCHLD reaps, SIGWINCH copies the host terminal's size to the pty, every other signal is
forwarded to the process. The host terminal (the first of stdin/stdout/stderr that is one) is put
in raw mode while we relay, so ^C, ^Z and line editing belong to the container's pty, and is
restored on the way out. Without any host terminal runc 1.1 fails ("open /dev/tty"); we relay
without raw mode instead, and on EOF of a non-terminal stdin send the pty's EOF character, so
`echo x | pyoci exec -t ID cat` ends.
"""

from __future__ import annotations

import _signal
import os
import select

from . import signals

_CHUNK = 65536
# Not forwarded: SIGCHLD and SIGWINCH are ours; SIGPIPE stays ignored (an EPIPE on our stdout is
# not the container's business); SIGTTIN/SIGTTOU keep their default so a backgrounded runtime
# touching the terminal is stopped by the job control of its shell, not looping in EINTR.
_KEEP = (signals.SIGKILL, signals.SIGSTOP, _signal.SIGPIPE, _signal.SIGTTIN, _signal.SIGTTOU)


def host_console() -> int | None:
    """The fd of our terminal, if any of stdin, stdout, stderr is one (runc's initHostConsole)."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return fd
        except OSError:
            pass
    return None


def host_size() -> tuple[int, int] | None:
    from .. import console

    fd = host_console()
    return console.get_size(fd) if fd is not None else None


def _make_raw(fd: int) -> list | None:
    """cfmakeraw(3) on fd; return the previous attributes to restore."""
    import termios

    try:
        old = termios.tcgetattr(fd)
    except termios.error:
        return None
    new = [list(x) if isinstance(x, list) else x for x in old]
    new[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
                | termios.IGNCR | termios.ICRNL | termios.IXON)
    new[1] &= ~termios.OPOST
    new[2] &= ~(termios.CSIZE | termios.PARENB)
    new[2] |= termios.CS8
    new[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    new[6][termios.VMIN] = 1
    new[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, new)
    return old


def _eof_char(master: int) -> bytes:
    import termios

    try:
        c = termios.tcgetattr(master)[6][termios.VEOF]
        return c if isinstance(c, bytes) else bytes([c])
    except termios.error:
        return b"\x04"


def _write_all(fd: int, data: bytes) -> None:
    """Blocking write of everything (our stdout may have been left O_NONBLOCK by the caller)."""
    while data:
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            select.select([], [fd], [])


def supervise(pid: int, master: int | None = None) -> int:
    """Wait for pid (our child, or adopted as subreaper), forwarding signals and relaying the pty;
    return its status as a shell reports it (128+N when killed by signal N)."""
    if master is not None:
        from .. import console

    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    old_wakeup = _signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signals.set_all(lambda *_: None, skip=_KEEP)
    host = host_console() if master is not None else None
    saved = _make_raw(host) if host is not None else None
    status: int | None = None
    try:
        if master is not None:
            os.set_blocking(master, False)
            if host is not None:
                size = console.get_size(host)
                if size:
                    console.set_size(master, *size)
        status = _reap(pid)      # it may be gone already (SIGCHLD came before the handlers)
        pending = b""            # stdin bytes the pty has not taken yet
        stdin_open = master is not None
        master_open = master is not None
        while status is None:
            p = select.poll()
            p.register(wake_r, select.POLLIN)
            if master_open:
                p.register(master, select.POLLIN | (select.POLLOUT if pending else 0))
            if stdin_open and not pending:
                p.register(0, select.POLLIN)
            for fd, ev in p.poll():
                if fd == wake_r:
                    for sig in os.read(wake_r, 256):
                        if sig == signals.SIGCHLD:
                            status = _reap(pid) if status is None else status
                        elif sig == _signal.SIGWINCH:
                            size = console.get_size(host) if host is not None else None
                            if size and master_open:
                                console.set_size(master, *size)
                        else:
                            try:
                                os.kill(pid, sig)
                            except ProcessLookupError:
                                pass
                elif fd == master:
                    if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                        master_open = _pump_out(master)
                    if master_open and pending and ev & select.POLLOUT:
                        pending = _pump_in(master, pending)
                elif fd == 0:
                    try:
                        data = os.read(0, _CHUNK)
                    except OSError:
                        data = b""
                    if data:
                        pending = data
                    else:
                        stdin_open = False
                        if host != 0 and master_open:
                            pending = _eof_char(master)
        if master_open:
            _drain(master)
    finally:
        if saved is not None:
            import termios

            try:
                termios.tcsetattr(host, termios.TCSANOW, saved)
            except termios.error:
                pass
        signals.set_all(signals.SIG_DFL, skip=_KEEP)
        _signal.set_wakeup_fd(old_wakeup)
        os.close(wake_r)
        os.close(wake_w)
        if master is not None:
            os.close(master)
    return status


def _reap(pid: int) -> int | None:
    """Reap every exited child (as a subreaper we also inherit orphans); pid's status if it exited."""
    status = None
    while True:
        try:
            reaped, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 255 if status is None else status
        if reaped == 0:
            return status
        if reaped == pid:
            code = os.waitstatus_to_exitcode(st)
            status = 128 - code if code < 0 else code


def _pump_out(master: int) -> bool:
    """Copy what the pty has to our stdout; False once the slave side is gone (EIO)."""
    try:
        data = os.read(master, _CHUNK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    if not data:
        return False
    _write_all(1, data)
    return True


def _pump_in(master: int, pending: bytes) -> bytes:
    try:
        return pending[os.write(master, pending):]
    except BlockingIOError:
        return pending
    except OSError:
        return b""


def _drain(master: int, idle: float = 0.05) -> None:
    """After the process exited: what it wrote is readable until EIO (no other holder of the slave),
    or, if something in the container still holds the slave, until it has been quiet a moment."""
    p = select.poll()
    p.register(master, select.POLLIN)
    while p.poll(int(idle * 1000)):
        if not _pump_out(master):
            return


class ConsoleListener:
    """A console socket of our own for `run` in the foreground: create() connects to it as to a
    client's, and init's one message waits in that connection until we accept it. A 0700
    directory of ours holds it, so no one else can connect first."""

    def __init__(self) -> None:
        import _socket

        self.dir = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"pyoci-tty-{os.getpid()}-{os.urandom(4).hex()}")
        os.mkdir(self.dir, 0o700)
        self.path = os.path.join(self.dir, "console.sock")
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            self.sock.bind(self.path)
            self.sock.listen(1)
        except BaseException:
            self.close()
            raise

    def receive_master(self) -> int:
        """The pty master init sent, sized like our terminal."""
        from .. import console

        self.sock.settimeout(10.0)
        fd, _ = self.sock._accept()
        try:
            master = console.receive(fd)
        finally:
            os.close(fd)
        size = host_size()
        if size:
            console.set_size(master, *size)
        return master

    def close(self) -> None:
        self.sock.close()
        for f in (self.path, self.dir):
            try:
                (os.rmdir if f == self.dir else os.unlink)(f)
            except OSError:
                pass
