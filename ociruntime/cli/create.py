"""pyoci create: everything but the user process; init waits for `start`."""

from __future__ import annotations


def create(g: dict, container_id: str, bundle: str, console_socket: str | None, pid_file: str | None,
           no_pivot: bool, no_new_keyring: bool, preserve_fds: int) -> None:
    from ..container import create as do_create

    do_create(g, container_id, bundle, pid_file=pid_file, console_socket=console_socket,
              no_pivot=no_pivot, preserve_fds=preserve_fds, no_new_keyring=no_new_keyring)
