"""Commands runc has and pyoci does not (checkpoint, restore): a clear error, not a usage error."""

from __future__ import annotations

from ..errors import Unsupported


def unsupported(g: dict, container_id: str | None = None) -> None:
    raise Unsupported("checkpoint/restore (CRIU) is not supported by pyoci")
