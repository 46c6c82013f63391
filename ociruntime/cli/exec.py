"""pyoci exec: run a process in an existing container; in the foreground exit with its status.

As runc: a failure is "exec failed: <why>" with exit status 255 (so a caller can tell it from the
process's own status); --process FILE replaces the command line and its flags.
"""

from __future__ import annotations

from ..errors import PyociError


class ExecFailed(PyociError):
    exit_code = 255


def exec(g: dict, container_id: str, command: tuple[str, ...], console_socket: str | None, cwd: str | None,
         env: tuple[str, ...], tty: bool, user: str | None, additional_gids: tuple[str, ...], process: str | None,
         detach: bool, pid_file: str | None, process_label: str | None, apparmor: str | None,
         no_new_privs: bool, cap: tuple[str, ...], preserve_fds: int, cgroup: tuple[str, ...],
         ignore_paused: bool) -> int:
    _warm_cgroup_lock(3 + (preserve_fds or 0))
    from ..process import exec as ex

    def make_process(base: dict) -> dict:
        if process:
            return ex.process_from_file(process, base)
        if not command:
            raise PyociError("process args cannot be empty")
        return ex.process_from_flags(base, command, cwd=cwd, env=env, tty=tty, user=user,
                                     additional_gids=additional_gids, cap=cap, no_new_privs=no_new_privs,
                                     apparmor=apparmor, process_label=process_label)

    try:
        status = ex.execute(g, container_id, make_process, detach=detach, pid_file=pid_file,
                            console_socket=console_socket, preserve_fds=preserve_fds or 0, cgroup=cgroup,
                            ignore_paused=ignore_paused)
    except PyociError as e:
        raise ExecFailed(f"exec failed: {e}") from None
    except OSError as e:
        from ..errors import oserror_text

        raise ExecFailed(f"exec failed: {oserror_text(e)}") from None
    # Done: leave as runc's os.Exit does, without the interpreter's teardown (~1 ms; nothing is
    # buffered: pyoci writes its records with os.write).
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _warm_cgroup_lock(first_free: int) -> None:
    """Start paying, right now and in the background, for the RCU grace period that the kernel
    spends on the first cgroup.procs write (it takes the global cgroup_threadgroup_rwsem for
    writing: rcu_sync_enter -> synchronize_rcu, ~10-15 ms here). A no-op write of our own pid to
    our own cgroup starts it; the real writes for the exec'd process, a few ms later, then wait
    only for the rest of that grace period, or none. runc pays it too, but hides it behind its
    child's Go start-up; we have no such work to hide it behind. _thread, not threading: ~0 ms."""
    import os

    try:
        with open("/proc/self/cgroup", "rb") as f:
            rel = next((ln[3:].strip().decode() for ln in f if ln.startswith(b"0::")), None)
    except OSError:
        return
    if rel is None:
        return
    listen = os.environ.get("LISTEN_FDS", "0")
    first_free += int(listen) if listen.isdigit() else 0
    for top in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        try:
            low = os.open(f"{top}{rel.rstrip('/')}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            continue
        # Out of the way of the fds the process is to get (3.., LISTEN_FDS + --preserve-fds):
        # a number the caller left free there must stay free, or we would pass on our own fd.
        import fcntl

        try:
            fd = fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, max(first_free, 64))
        except (OSError, OverflowError):
            return
        finally:
            os.close(low)
        import _thread

        global _warmer
        _warmer = _thread.allocate_lock()
        _warmer.acquire()
        _thread.start_new_thread(_write_own_pid, (fd, _warmer))
        return


_warmer = None


def _write_own_pid(fd: int, done) -> None:
    import os

    try:
        os.write(fd, str(os.getpid()).encode())
    except OSError:
        pass
    finally:
        os.close(fd)
        done.release()


def wait_warmer() -> None:
    """Until the warming thread is gone (setns(CLONE_NEWTIME) needs a single-threaded caller)."""
    if _warmer is not None:
        _warmer.acquire()
        import time

        time.sleep(0.001)   # the thread releases the lock just before it ends
