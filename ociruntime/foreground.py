"""`pyoci run`: create and start, then, in the foreground, relay a terminal, forward signals,
wait for the container's init and delete the container (unless --keep)."""

from __future__ import annotations

import os

from . import jsonio
from .container import _destroy, _poststart, create, delete
from .errors import PyociError


def run(g: dict, container_id: str, bundle: str, console_socket: str | None = None, detach: bool = False,
        keep: bool = False, pid_file: str | None = None, no_subreaper: bool = False, no_pivot: bool = False,
        preserve_fds: int = 0, no_new_keyring: bool = False) -> int:
    """create + start; in the foreground, forward signals, wait, and delete unless --keep.

    A terminal in the foreground without --console-socket is relayed here, as runc does: create
    sends the pty master to a console socket of our own, and process/tty.py copies between our
    stdio and it, sized like our terminal and in raw mode."""
    from .process import execfifo

    if console_socket and not detach:
        # runc's checkTerminal: a console socket is for a caller that detaches.
        raise PyociError("cannot use console socket if pyoci will not detach or allocate tty")
    listener = None
    terminal = False
    if not detach and not console_socket:
        try:   # create reads and checks config.json again, properly
            with open(os.path.join(bundle, "config.json"), "rb") as f:
                terminal = jsonio.loads(f.read())["process"]["terminal"] is True
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if terminal:
        from .process import tty

        listener = tty.ConsoleListener()
        console_socket = listener.path
    if not detach and not no_subreaper:
        from .process.spawn import subreaper
        from .syscalls.linux import SYSCALLS

        # init's parent (stage 1) exits right away: as subreaper we inherit init and can wait for it.
        subreaper(SYSCALLS)
    master = None
    try:
        c = create(g, container_id, bundle, pid_file=pid_file, console_socket=console_socket,
                   no_pivot=no_pivot, preserve_fds=preserve_fds, no_new_keyring=no_new_keyring)
        try:
            if listener is not None:
                # Sized before start, so the process never sees the pty at 0x0.
                master = listener.receive_master()
            execfifo.release(c.cdir.fifo)
        except BaseException:
            if master is not None:
                os.close(master)
            _destroy(c.cdir, c.state, c.manager)
            raise
    finally:
        if listener is not None:
            listener.close()
    if c.state.hooks.get("poststart"):
        _poststart(c.cdir, c.state)
    c.cdir.release()
    if detach:
        return 0
    if master is not None:
        from .process import tty

        status = tty.supervise(c.state.pid, master)
    else:
        status = _wait_forwarding(c.state.pid)
    if not keep:
        delete(g, container_id, force=True)
    return status


def _wait_forwarding(pid: int) -> int:
    """Relay signals to init until it exits; return its status the way a shell reports it."""
    from .process import signals

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    signals.set_all(forward)
    code = None
    while code is None:
        try:
            reaped, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 255
        if reaped == pid:
            code = os.waitstatus_to_exitcode(status)
    # The pid namespace died with init; reap the orphans it handed us.
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    signals.set_all(signals.SIG_DFL)
    return 128 - code if code < 0 else code
