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
    from ..process import exec as ex
    from ..process import execproc

    def make_process(base: dict) -> dict:
        if process:
            return execproc.process_from_file(process, base)
        if not command:
            raise PyociError("process args cannot be empty")
        return execproc.process_from_flags(base, command, cwd=cwd, env=env, tty=tty, user=user,
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

