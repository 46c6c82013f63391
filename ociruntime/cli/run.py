"""pyoci run: create and start; in the foreground wait, forward signals, and exit with the container's status."""

from __future__ import annotations


def run(g: dict, container_id: str, bundle: str, console_socket: str | None, detach: bool, keep: bool,
        pid_file: str | None, no_subreaper: bool, no_pivot: bool, no_new_keyring: bool, preserve_fds: int) -> int:
    from ..foreground import run as do_run

    return do_run(g, container_id, bundle, console_socket=console_socket, detach=detach, keep=keep,
                  pid_file=pid_file, no_subreaper=no_subreaper, no_pivot=no_pivot, preserve_fds=preserve_fds, no_new_keyring=no_new_keyring)
