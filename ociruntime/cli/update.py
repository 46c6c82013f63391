"""pyoci update: change a running container's cgroup limits, from runc's flags or from a
linux.resources JSON (`-r FILE`, `-r -` for stdin; then the flags are ignored, as in runc).

Only what runc's update applies is taken: memory limit/reservation/swap/checkBeforeUpdate,
all of cpu, blockIO.weight, pids.limit and unified. Devices never change (runc neither).
The merged resources are kept in state.json so a later update knows the other half of
interdependent values (cpu quota/period on v2).
"""

from __future__ import annotations

import sys

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(opt: str, s: str) -> int:
    """docker/go-units RAMInBytes: "512", "10m", "1.5g", "2GiB", "100 kb" (binary multiples)."""
    from ..errors import UsageError

    t = s.strip().lower()
    for suffix in ("ib", "b", "i"):
        if t.endswith(suffix) and len(t) > len(suffix):
            t = t[:-len(suffix)]
            break
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    num = t[:-1].strip() if unit else t
    try:
        value = float(num) if num and num[0].isdigit() else None
    except ValueError:
        value = None
    if value is None:
        raise UsageError(f"invalid value for {opt}: invalid size: '{s}'")
    return int(value * _UNITS[unit])


def _int(opt: str, s: str, unsigned: bool) -> int:
    from ..errors import UsageError

    try:
        v = int(s, 10)
    except ValueError:
        v = None
    if v is None or (unsigned and v < 0):
        fn = "ParseUint" if unsigned else "ParseInt"
        raise UsageError(f"invalid value for {opt}: strconv.{fn}: parsing {s!r}: invalid syntax")
    return v


def from_flags(kw: dict) -> dict:
    r: dict = {"memory": {}, "cpu": {}, "blockIO": {}, "pids": {}}
    if kw.get("blkio_weight"):
        r["blockIO"]["weight"] = _int("blkio-weight", kw["blkio_weight"], True)
    for opt, key in (("cpuset_cpus", "cpus"), ("cpuset_mems", "mems")):
        if kw.get(opt):
            r["cpu"][key] = kw[opt]
    if kw.get("cpu_idle"):
        r["cpu"]["idle"] = _int("cpu-idle", kw["cpu_idle"], False)
    for opt, key in (("cpu_burst", "burst"), ("cpu_period", "period"), ("cpu_rt_period", "realtimePeriod"),
                     ("cpu_share", "shares")):
        if kw.get(opt):
            r["cpu"][key] = _int(opt.replace("_", "-"), kw[opt], True)
    for opt, key in (("cpu_quota", "quota"), ("cpu_rt_runtime", "realtimeRuntime")):
        if kw.get(opt):
            r["cpu"][key] = _int(opt.replace("_", "-"), kw[opt], False)
    for opt, key in (("memory", "limit"), ("memory_swap", "swap"), ("memory_reservation", "reservation")):
        if kw.get(opt):
            v = kw[opt]
            r["memory"][key] = -1 if v == "-1" else ram_in_bytes(opt.replace("_", "-"), v)
    for opt in ("kernel_memory", "kernel_memory_tcp"):
        if kw.get(opt):
            from .. import log

            log.warning(f"Setting --{opt.replace('_', '-')} is ignored and will be removed")
    if kw.get("pids_limit"):
        r["pids"]["limit"] = _int("pids-limit", kw["pids_limit"], False)
    return r


def from_json(path: str) -> dict:
    from .. import jsonio, log
    from ..errors import PyociError

    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
        raw = jsonio.loads(data)
    except OSError as e:
        raise PyociError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    except ValueError as e:
        raise PyociError(f"{path}: invalid resources JSON: {e}") from None
    if not isinstance(raw, dict):
        raise PyociError(f"{path}: resources must be a JSON object")
    mem = raw.get("memory") or {}
    r = {"memory": {k: mem[k] for k in ("limit", "reservation", "swap", "checkBeforeUpdate") if k in mem},
         "cpu": dict(raw.get("cpu") or {}),
         "blockIO": {k: v for k, v in (raw.get("blockIO") or {}).items() if k == "weight"},
         "pids": dict(raw.get("pids") or {})}
    if raw.get("unified"):
        r["unified"] = dict(raw["unified"])
    ignored = sorted(k for k in raw if k not in ("memory", "cpu", "blockIO", "pids", "unified"))
    ignored += [f"memory.{k}" for k in mem if k not in r["memory"]]
    ignored += [f"blockIO.{k}" for k in (raw.get("blockIO") or {}) if k != "weight"]
    if ignored:
        log.warning(f"update ignores {', '.join(ignored)} (as runc does)")
    return r


def update(g: dict, container_id: str, resources: str | None = None, **kw: str | None) -> None:
    from .. import cgroups
    from ..errors import PyociError, WrongState
    from ..state import StateStore, derive_status

    r = from_json(resources) if resources else from_flags(kw)
    mem = r.get("memory") or {}
    # runc: "unlimited memory" without a swap value means unlimited swap too.
    if mem.get("limit") == -1 and "swap" not in mem:
        mem["swap"] = -1
    for l3 in ("l3_cache_schema", "mem_bw_schema"):
        if kw.get(l3):
            raise PyociError("Intel RDT/CAT: l3 cache schema is not enabled" if l3.startswith("l3")
                             else "Intel RDT/MBA: memory bandwidth schema is not enabled")
    r = {k: v for k, v in r.items() if v}
    cdir = StateStore(g.get("root")).open(container_id)
    with cdir.lock():
        st = cdir.read()
        if derive_status(st, cdir) == "stopped":
            raise WrongState("container not running")
        if not st.cgroup:
            raise PyociError("container has no cgroup to update")
        mgr = cgroups.reopen(st.cgroup)
        mgr.apply(r)
        st.cgroup = mgr.describe()
        cdir.write(st)
