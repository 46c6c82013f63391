"""pyoci kill: send a signal to the container's init, or with --all to every process in its cgroup."""

from __future__ import annotations


def kill(g: dict, container_id: str, signal: str | None, all: bool) -> None:
    from ..container import kill as do_kill
    from ..process.signals import parse

    do_kill(g, container_id, parse(signal), all_=all)
