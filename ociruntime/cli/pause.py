"""pyoci pause / resume: freeze and thaw every process of the container through its cgroup
(v1 freezer, or cgroup.freeze on cgroup2). runc allows pausing a created container too."""

from __future__ import annotations


def _open(g: dict, container_id: str):
    from ..state import StateStore

    return StateStore(g.get("root")).open(container_id)


def pause(g: dict, container_id: str) -> None:
    from .. import cgroups
    from ..errors import WrongState
    from ..state import derive_status

    cdir = _open(g, container_id)
    with cdir.lock():
        st = cdir.read()
        status = derive_status(st, cdir)
        # runc: Running or Created may be paused, anything else is ErrNotRunning.
        if status not in ("running", "created") or not st.cgroup or cgroups.is_frozen(st.cgroup):
            raise WrongState("container not running")
        cgroups.reopen(st.cgroup).freeze()


def resume(g: dict, container_id: str) -> None:
    from .. import cgroups
    from ..errors import WrongState
    from ..state import derive_status

    cdir = _open(g, container_id)
    with cdir.lock():
        st = cdir.read()
        # A paused *created* container still reads "created" (its exec fifo exists): ask the freezer.
        if not st.cgroup or not cgroups.is_frozen(st.cgroup) or derive_status(st, cdir) == "stopped":
            raise WrongState("container not paused")
        cgroups.reopen(st.cgroup).thaw()
