"""pyoci delete: remove a stopped container (or, with --force, any container) and all it holds."""

from __future__ import annotations


def delete(g: dict, container_id: str, force: bool) -> None:
    from ..container import delete as do_delete

    do_delete(g, container_id, force=force)
