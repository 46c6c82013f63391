"""pyoci state: the container's state as runtime.md defines it, plus runc's rootfs/created/owner."""

from __future__ import annotations

import sys


def state(g: dict, container_id: str) -> None:
    from .. import jsonio
    from ..container import state_json

    sys.stdout.write(jsonio.dumps(state_json(g, container_id), indent=2) + "\n")
