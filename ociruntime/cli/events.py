"""pyoci events: `--stats` prints the container's cgroup stats once as runc does
({"type":"stats","id":..,"data":{..}}); without it, stats every --interval and an
{"type":"oom","id":..} line for each OOM notification, until the container's cgroup is removed."""

from __future__ import annotations

import os
import sys

_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(s: str) -> float:
    """Go's time.ParseDuration: "5s", "100ms", "1m30s", "1.5h" -> seconds."""
    from ..errors import UsageError

    bad = UsageError(f'invalid value "{s}" for flag -interval: parse error')
    t, total = s.strip(), 0.0
    if t in ("0", ""):
        return 0.0
    while t:
        i = 0
        while i < len(t) and (t[i].isdigit() or t[i] == "."):
            i += 1
        j = i
        while j < len(t) and not (t[j].isdigit() or t[j] == "."):
            j += 1
        num, unit = t[:i], t[i:j]
        if not num or unit not in _UNIT:
            raise bad
        try:
            total += float(num) * _UNIT[unit]
        except ValueError:
            raise bad from None
        t = t[j:]
    return total


def _emit(ev: dict) -> None:
    from .. import jsonio

    sys.stdout.write(jsonio.dumps(ev) + "\n")
    sys.stdout.flush()


def events(g: dict, container_id: str, interval: str = "5s", stats: bool = False) -> None:
    import select
    import time

    from .. import cgroups
    from ..errors import PyociError, WrongState
    from ..state import StateStore, derive_status

    period = parse_duration(interval or "5s")
    if period <= 0:
        raise PyociError("duration interval must be greater than 0")
    cdir = StateStore(g.get("root")).open(container_id)
    st = cdir.read()
    if derive_status(st, cdir) == "stopped":
        raise WrongState(f"container with id {container_id} is not running")
    if not st.cgroup:
        raise PyociError("container has no cgroup")
    mgr = cgroups.reopen(st.cgroup)
    if stats:
        _emit({"type": "stats", "id": container_id, "data": mgr.stats()})
        return

    from ..cgroups.stats import OomWatch

    alive = [d for d in mgr.dirs() if os.path.isdir(d)]
    watch = OomWatch(mgr)
    poller = select.poll()
    if watch.fd >= 0:
        poller.register(watch.fd, watch.events())
    nxt = time.monotonic() + period
    try:
        while True:
            wait = max(0.0, nxt - time.monotonic())
            ready = poller.poll(wait * 1000) if watch.fd >= 0 else time.sleep(wait)
            if ready:
                n = watch.check()
                if n < 0:
                    return   # the cgroup is gone: the container was deleted
                for _ in range(n):
                    _emit({"type": "oom", "id": container_id})
            if time.monotonic() >= nxt:
                nxt += period
                if not all(os.path.isdir(d) for d in alive):
                    return
                try:
                    _emit({"type": "stats", "id": container_id, "data": mgr.stats()})
                except OSError as e:
                    from .. import log

                    log.error(f"stats: {e}")
    except (KeyboardInterrupt, BrokenPipeError):
        return
    finally:
        watch.close()
