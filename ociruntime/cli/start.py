"""pyoci start: release a created container's init into the user's process."""

from __future__ import annotations


def start(g: dict, container_id: str) -> None:
    from ..container import start as do_start

    do_start(g, container_id)
