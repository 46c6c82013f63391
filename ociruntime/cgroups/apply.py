"""Writing a resource plan into the container's cgroups: route each resource group to the
hierarchy that holds its controller (v1, v2, or either side of a hybrid host), then execute
the steps in order with runc's retry rules. Imported by `create` and `update` only."""

from __future__ import annotations

import os

from .. import log
from ..errors import ConfigError, PyociError, SetupError
from . import devices as D
from . import resources as R
from .manager import read_file

V1, V2, HYBRID = "v1", "v2", "hybrid"


def check_memory(m, limit: int) -> None:
    """memory.checkBeforeUpdate: refuse a limit below the current usage."""
    ctl = m.v1_controllers()
    if "memory" in ctl:
        f = os.path.join(ctl["memory"], "memory.usage_in_bytes")
    elif m.d.get("unified"):
        f = os.path.join(m.d["unified"], "memory.current")
    else:
        return
    try:
        usage = int(read_file(f).split()[0])
    except (OSError, ValueError, IndexError):
        return
    if usage > limit:
        raise ConfigError(f"linux.resources.memory.limit: rejecting memory limit {limit} below "
                          f"current usage {usage} (checkBeforeUpdate)")


def route(m, r: dict | None, devices: bool) -> list[tuple[str | None, tuple]]:
    """[(directory, step)]: each resource group routed to the hierarchy holding its controller."""
    mode = m.d["mode"]
    ctl = m.v1_controllers()
    uni = m.d.get("unified")
    uctl = set(m.d.get("uctl") or ())
    p1 = R.plan_v1(r) if mode != V2 else []
    # v2's plan (and its validation) only when some group goes there: a hybrid host keeps
    # v1 semantics for what its v1 controllers hold.
    p2: list | None = R.plan_v2(r) if mode == V2 else None
    out: list[tuple[str | None, tuple]] = []
    for group, (_, c2) in R.GROUPS.items():
        s1 = [s for s in p1 if s[0] == group]
        if mode == V2:
            out += [(uni, s) for s in p2 if s[0] == group]
        elif all(s[1] in ctl for s in s1):
            out += [(ctl[s[1]], s) for s in s1]
        elif mode == HYBRID and c2 and c2 in uctl:
            if p2 is None:
                p2 = R.plan_v2(r)
            out += [(uni, s) for s in p2 if s[0] == group]
        else:
            miss = next(s for s in s1 if s[1] not in ctl)
            raise ConfigError(f"{miss[4]}: the {miss[1]} cgroup controller is not available on this host")
    if devices:
        out += _device_steps(m, r)
    uni_steps = R.plan_unified(r)
    if uni_steps and mode == V1:
        raise ConfigError("linux.resources.unified: cannot use unified on cgroup v1")
    for s in uni_steps:
        if mode == HYBRID and s[1] != "cgroup" and s[1] not in uctl:
            raise ConfigError(f"{s[4]}: the {s[1]} controller is not on the cgroup v2 side of this hybrid host")
        out.append((uni, s))
    return out


def _device_steps(m, r: dict | None) -> list[tuple[str | None, tuple]]:
    emu = D.emulate((r or {}).get("devices"))
    ctl = m.v1_controllers()
    if "devices" in ctl:
        return [(ctl["devices"], ("devices", "devices", f, line, "linux.resources.devices", 0))
                for f, line in D.v1_writes(emu)]
    if m.d.get("unified"):
        return [(m.d["unified"], ("devices", "bpf", "<bpf>", D.program(emu), "linux.resources.devices", 0))]
    raise ConfigError("linux.resources.devices: no devices cgroup controller and no cgroup2 "
                      "hierarchy for a device program: refusing to run without device control")


def execute(m, steps: list[tuple[str | None, tuple]]) -> None:
    """Write the steps in order. A DEFER step refused with EINVAL is retried after the next
    non-deferred step (runc: cfs_period_us after cfs_quota_us, memsw after the limit)."""
    pending: list[tuple[str, tuple]] = []
    for d, st in steps:
        if st[5] & R.WARN:
            log.warning(st[3])
            continue
        try:
            _write_step(m, d, st)
        except OSError as e:
            if st[5] & R.DEFER and e.errno == 22:
                pending.append((d, st))
                continue
            raise _error(m, d, st, e) from e
        if pending and not st[5] & R.DEFER:
            _retry(m, pending)
            pending = []
    _retry(m, pending)


def _retry(m, pending: list) -> None:
    for d, st in pending:
        try:
            _write_step(m, d, st)
        except OSError as e:
            raise _error(m, d, st, e) from e


def _write_step(m, d: str, st: tuple) -> None:
    _, ctrl, file, value, field, flags = st
    if ctrl == "bpf":
        from . import bpf

        bpf.attach_device_program(d, value)
        return
    if "|" in file:
        files = file.split("|")
        vals = value.split("|") if "|" in value else [value] * len(files)
        file, value = files[0], vals[0]
        for f_, v_ in zip(files, vals):
            if os.path.exists(os.path.join(d, f_)):
                file, value = f_, v_
                break
    path = os.path.join(d, file)
    if flags & R.OPT and not os.path.exists(path):
        if field.endswith(("kernel", "kernelTCP")):
            log.warning(f"{field} is ignored: {file} does not exist on this kernel")
        return
    if flags & R.LINES:
        for line in value.split("\n"):
            if line.strip():
                m.writer(path, line)
    else:
        m.writer(path, value)
    if flags & R.VERIFY:
        got = int(read_file(path).split()[0])
        if int(value) > got:
            raise ConfigError(f"{field}: the maximum allowed cpu-shares is {got}")
        if int(value) < got:
            raise ConfigError(f"{field}: the minimum allowed cpu-shares is {got}")


def _error(m, d: str, st: tuple, e: OSError) -> PyociError:
    _, ctrl, file, value, field, _ = st
    reason = os.strerror(e.errno).lower() if e.errno else str(e)
    if ctrl == "bpf":
        return SetupError(f"{field}: loading the eBPF device program into {d}: {e.strerror or e}")
    path = os.path.join(d, file.split("|")[0])
    if file == "memory.limit_in_bytes" and e.errno == 16:   # EBUSY: usage above the new limit
        try:
            usage = read_file(os.path.join(d, "memory.usage_in_bytes")).strip()
            peak = read_file(os.path.join(d, "memory.max_usage_in_bytes")).strip()
            return SetupError(f"{field}: unable to set memory limit to {value} "
                              f"(current usage: {usage}, peak usage: {peak})")
        except OSError:
            pass
    if e.errno == 2 and ctrl:
        reason += f" (is the {ctrl} controller enabled for this cgroup?)"
    return SetupError(f"{field}: writing {value!r} to {path}: {reason}")
