"""Small helpers shared by the case modules."""

from __future__ import annotations

import os
import time

from .. import host
from ..harness import Ctx, Fail

SLEEP = ["sleep", "300"]


def out_mount(t: Ctx, cfg: dict, dest: str = "/out", name: str = "out") -> str:
    """Bind-mount a fresh host dir at `dest` (read-write) for the container's output; returns it."""
    path = t.hostdir(name)
    cfg.setdefault("mounts", []).append(
        {"destination": dest, "type": "bind", "source": path, "options": ["rbind", "rw"]})
    return path


def read(path: str, default: str | None = None) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        if default is None:
            raise Fail(f"{path} was not written")
        return default


def pid_of(t: Ctx, cid: str) -> int:
    st = t.state(cid)
    pid = st.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        raise Fail(f"state has no usable pid: {st.get('pid')!r}")
    return pid


def alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def host_ns(ns: str) -> str:
    """The runtime namespace of type `ns`: the one the suite (and so the runtime) runs in."""
    return os.readlink(f"/proc/self/ns/{ns}")


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode(errors="replace").split("\0")[:-1]


def working(t: Ctx) -> str:
    """A created container whose `state` works: the positive control of the error cases."""
    cid = t.create(t.bundle(SLEEP))
    t.state(cid)
    return cid


def create_running(t: Ctx, cfg: dict) -> tuple[str, int]:
    """create + start a long-running container; returns (id, pid)."""
    cid = t.create(t.bundle(config=cfg))
    t.start(cid)
    st = t.wait_status(cid, "running")
    if st != "running":
        raise Fail(f"status after start is {st!r}, not 'running'")
    return cid, pid_of(t, cid)


cgroup_dirs = host.cgroup_dirs


def holder(t: Ctx, flags: list[str]) -> int:
    """A process in fresh namespaces to join; returns the pid whose /proc/<pid>/ns/* to use."""
    p = t.helper(["unshare", *flags, "sleep", "300"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if "--fork" in flags and kids:
            return int(kids[0])
        try:
            if "--fork" not in flags and os.readlink(f"/proc/{p.pid}/exe").endswith("sleep"):
                return p.pid
        except OSError:
            pass
        time.sleep(0.01)
    t.skip("could not start a namespace holder with unshare(1)")
