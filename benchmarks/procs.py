"""Waiting for a container's init to be gone, the way conmon and the shim learn it: its
/proc/PID/stat says zombie (or it has vanished)."""

from __future__ import annotations

import time


def wait_dead(pid: int | None, timeout: float = 10) -> None:
    if pid is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.002)
