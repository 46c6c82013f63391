"""Pure: linux.resources (the raw config.json dict) -> the cgroup file writes, for v1 and for v2.

A plan is a list of steps (group, controller, file, value, field, flags), written in order by
Manager._execute. `group` is the resource group ("memory", "cpu", "blkio", ...) so that on a
hybrid host each group can go to whichever side holds its controller. `field` names the
config path for error messages. Zero/absent values are "leave unchanged", as in runc.

The orders and conversions are runc's (libcontainer/cgroups/fs/*.go for v1, fs2/*.go for v2):
  - v1 memory: memsw before limit, retried after it on EINVAL (so raising and lowering both work)
  - v1 cpu: cfs_period_us and cfs_burst_us may be refused (EINVAL) until the quota is written
  - v2 cpu.weight = 1 + (shares - 2) * 9999 / 262142      (runc ConvertCPUSharesToCgroupV2Value)
  - v2 io.weight  = 1 + (weight - 10) * 9999 / 990         (ConvertBlkIOToIOWeightValue), unless BFQ
  - v2 memory.swap.max = swap - limit (v1 swap is memory+swap; ConvertMemorySwapToCgroupV2Value)
  - v2 cpu.max = "<quota|max> <period|100000>"
"""

from __future__ import annotations

from ..errors import ConfigError

# flags
OPT = 1       # skip silently if the file does not exist (feature absent from this kernel)
DEFER = 2     # EINVAL: retry after the next non-deferred step (interdependent values)
VERIFY = 4    # read the value back: the kernel clamps cpu.shares silently (runc checks too)
LINES = 8     # write each line on its own (multi-line values: one write per entry)
WARN = 16     # not a write: `value` is a warning to log (a setting this cgroup version lacks)

F = "linux.resources."

# resource group -> (v1 controllers, v2 controller): where each group may be written.
GROUPS = {
    "memory": (("memory",), "memory"),
    "cpu": (("cpu",), "cpu"),
    "cpuset": (("cpuset",), "cpuset"),
    "pids": (("pids",), "pids"),
    "blkio": (("blkio",), "io"),
    "hugetlb": (("hugetlb",), "hugetlb"),
    "network": (("net_cls", "net_prio"), None),
    "rdma": (("rdma",), "rdma"),
}


def _n(d: dict | None, key: str) -> int:
    v = (d or {}).get(key)
    return 0 if v is None else int(v)


def _num(v: int) -> str:
    """runc's numToStr for v2: 0 -> "" (unset), -1 -> "max"."""
    return "" if v == 0 else ("max" if v == -1 else str(v))


def shares_to_weight(shares: int) -> int:
    return 0 if shares == 0 else 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    return 0 if weight == 0 else 1 + ((weight - 10) * 9999) // 990


def swap_to_v2(swap: int, memory: int) -> int:
    """v1 memory+swap -> v2 swap only; -1 = max, 0 = unset."""
    if memory == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if memory in (0, -1):
        raise ConfigError(F + "memory.swap: unable to set swap limit without memory limit")
    if memory < 0:
        raise ConfigError(F + f"memory.limit: invalid memory value: {memory}")
    if swap < memory:
        raise ConfigError(F + "memory.swap: memory+swap limit should be >= memory limit")
    return swap - memory


def _dev(d: dict, value: object) -> str:
    return f"{int(d['major'])}:{int(d['minor'])} {value}"


_THROTTLE = (("throttleReadBpsDevice", "read_bps_device", "rbps"),
             ("throttleWriteBpsDevice", "write_bps_device", "wbps"),
             ("throttleReadIOPSDevice", "read_iops_device", "riops"),
             ("throttleWriteIOPSDevice", "write_iops_device", "wiops"))


def _rdma(dev: str, lim: dict) -> str:
    s = dev
    if lim.get("hcaHandles") is not None:
        s += f" hca_handle={int(lim['hcaHandles'])}"
    if lim.get("hcaObjects") is not None:
        s += f" hca_object={int(lim['hcaObjects'])}"
    return s


def plan_v1(r: dict | None) -> list[tuple]:
    r = r or {}
    s: list[tuple] = []

    mem = r.get("memory") or {}
    limit, swap = _n(mem, "limit"), _n(mem, "swap")
    swap_flags = DEFER
    if limit == -1 and swap == 0:
        swap, swap_flags = -1, DEFER | OPT   # "unlimited" means memory+swap too, if swap is accounted
    if swap:
        s.append(("memory", "memory", "memory.memsw.limit_in_bytes", str(swap), F + "memory.swap", swap_flags))
    if limit:
        s.append(("memory", "memory", "memory.limit_in_bytes", str(limit), F + "memory.limit", 0))
    for key, file in (("kernel", "memory.kmem.limit_in_bytes"), ("kernelTCP", "memory.kmem.tcp.limit_in_bytes")):
        if _n(mem, key):
            s.append(("memory", "memory", file, str(_n(mem, key)), F + "memory." + key, OPT))
    if _n(mem, "reservation"):
        s.append(("memory", "memory", "memory.soft_limit_in_bytes", str(_n(mem, "reservation")),
                  F + "memory.reservation", 0))
    if mem.get("disableOOMKiller"):
        s.append(("memory", "memory", "memory.oom_control", "1", F + "memory.disableOOMKiller", 0))
    sw = mem.get("swappiness")
    if sw is not None and int(sw) != -1:
        if not 0 <= int(sw) <= 100:
            raise ConfigError(F + f"memory.swappiness: invalid value {sw} (valid range is 0-100)")
        s.append(("memory", "memory", "memory.swappiness", str(int(sw)), F + "memory.swappiness", 0))

    cpu = r.get("cpu") or {}
    if _n(cpu, "shares"):
        s.append(("cpu", "cpu", "cpu.shares", str(_n(cpu, "shares")), F + "cpu.shares", VERIFY))
    if _n(cpu, "period"):
        s.append(("cpu", "cpu", "cpu.cfs_period_us", str(_n(cpu, "period")), F + "cpu.period", DEFER))
    if cpu.get("burst") is not None:
        s.append(("cpu", "cpu", "cpu.cfs_burst_us", str(_n(cpu, "burst")), F + "cpu.burst",
                  DEFER | (OPT if _n(cpu, "burst") == 0 else 0)))
    if _n(cpu, "quota"):
        s.append(("cpu", "cpu", "cpu.cfs_quota_us", str(_n(cpu, "quota")), F + "cpu.quota", 0))
    if cpu.get("idle") is not None:
        s.append(("cpu", "cpu", "cpu.idle", str(_n(cpu, "idle")), F + "cpu.idle", 0))
    if _n(cpu, "realtimePeriod"):
        s.append(("cpu", "cpu", "cpu.rt_period_us", str(_n(cpu, "realtimePeriod")), F + "cpu.realtimePeriod", DEFER))
    if _n(cpu, "realtimeRuntime"):
        s.append(("cpu", "cpu", "cpu.rt_runtime_us", str(_n(cpu, "realtimeRuntime")), F + "cpu.realtimeRuntime", 0))
    s += _cpuset(cpu)
    s += _pids(r)

    bio = r.get("blockIO") or {}
    if _n(bio, "weight"):
        s.append(("blkio", "blkio", "blkio.weight|blkio.bfq.weight", str(_n(bio, "weight")), F + "blockIO.weight", 0))
    if _n(bio, "leafWeight"):
        s.append(("blkio", "blkio", "blkio.leaf_weight", str(_n(bio, "leafWeight")), F + "blockIO.leafWeight", 0))
    for i, wd in enumerate(bio.get("weightDevice") or ()):
        if _n(wd, "weight"):
            s.append(("blkio", "blkio", "blkio.weight_device|blkio.bfq.weight_device", _dev(wd, _n(wd, "weight")),
                      F + f"blockIO.weightDevice[{i}]", 0))
        if _n(wd, "leafWeight"):
            s.append(("blkio", "blkio", "blkio.leaf_weight_device", _dev(wd, _n(wd, "leafWeight")),
                      F + f"blockIO.weightDevice[{i}]", 0))
    for key, file, _ in _THROTTLE:
        for i, td in enumerate(bio.get(key) or ()):
            s.append(("blkio", "blkio", "blkio.throttle." + file, _dev(td, int(td["rate"])),
                      F + f"blockIO.{key}[{i}]", 0))

    for i, h in enumerate(r.get("hugepageLimits") or ()):
        pre = f"hugetlb.{h['pageSize']}"
        s.append(("hugetlb", "hugetlb", pre + ".limit_in_bytes", str(int(h["limit"])), F + f"hugepageLimits[{i}]", 0))
        s.append(("hugetlb", "hugetlb", pre + ".rsvd.limit_in_bytes", str(int(h["limit"])),
                  F + f"hugepageLimits[{i}]", OPT))

    net = r.get("network") or {}
    if _n(net, "classID"):
        s.append(("network", "net_cls", "net_cls.classid", str(_n(net, "classID")), F + "network.classID", 0))
    for i, p in enumerate(net.get("priorities") or ()):
        s.append(("network", "net_prio", "net_prio.ifpriomap", f"{p['name']} {int(p['priority'])}",
                  F + f"network.priorities[{i}]", 0))
    s += _rdma_steps(r)
    return s


def _cpuset(cpu: dict) -> list[tuple]:
    s = []
    if cpu.get("cpus"):
        s.append(("cpuset", "cpuset", "cpuset.cpus", cpu["cpus"], F + "cpu.cpus", 0))
    if cpu.get("mems"):
        s.append(("cpuset", "cpuset", "cpuset.mems", cpu["mems"], F + "cpu.mems", 0))
    return s


def _pids(r: dict) -> list[tuple]:
    # runc: 0 leaves the limit alone, a negative one means "max".
    lim = _n(r.get("pids"), "limit")
    if lim == 0:
        return []
    return [("pids", "pids", "pids.max", str(lim) if lim > 0 else "max", F + "pids.limit", 0)]


def _rdma_steps(r: dict) -> list[tuple]:
    return [("rdma", "rdma", "rdma.max", _rdma(dev, lim or {}), F + f"rdma.{dev}", 0)
            for dev, lim in sorted((r.get("rdma") or {}).items())]


def plan_v2(r: dict | None) -> list[tuple]:
    r = r or {}
    s: list[tuple] = []

    mem = r.get("memory") or {}
    limit, swap, res = _n(mem, "limit"), _n(mem, "swap"), _n(mem, "reservation")
    if limit or swap or res:
        sw = swap_to_v2(swap, limit)
        sws = _num(sw)
        if sws == "" and sw == 0 and swap > 0:
            sws = "0"   # memory == memory+swap: no swap at all
        if sws:
            # No swap accounting: "max" and "0" are what the kernel does anyway (runc ignores ENOENT).
            s.append(("memory", "memory", "memory.swap.max", sws, F + "memory.swap",
                      OPT if sws in ("max", "0") else 0))
        if _num(limit):
            s.append(("memory", "memory", "memory.max", _num(limit), F + "memory.limit", 0))
        if _num(res):
            s.append(("memory", "memory", "memory.low", _num(res), F + "memory.reservation", 0))
    for key in ("kernel", "kernelTCP"):
        if _n(mem, key):
            s.append(("memory", "memory", None, f"{F}memory.{key} is ignored: cgroup v2 has no separate "
                      "kernel memory limit", F + "memory." + key, WARN))
    if mem.get("swappiness") is not None and int(mem["swappiness"]) != -1:
        s.append(("memory", "memory", None, f"{F}memory.swappiness is ignored: cgroup v2 has no "
                  "per-cgroup swappiness", F + "memory.swappiness", WARN))
    if mem.get("disableOOMKiller"):
        s.append(("memory", "memory", None, f"{F}memory.disableOOMKiller is ignored: cgroup v2 "
                  "cannot disable the OOM killer", F + "memory.disableOOMKiller", WARN))

    cpu = r.get("cpu") or {}
    if _n(cpu, "shares"):
        s.append(("cpu", "cpu", "cpu.weight", str(shares_to_weight(_n(cpu, "shares"))), F + "cpu.shares", 0))
    if cpu.get("burst") is not None:
        s.append(("cpu", "cpu", "cpu.max.burst", str(_n(cpu, "burst")), F + "cpu.burst",
                  DEFER | (OPT if _n(cpu, "burst") == 0 else 0)))
    quota, period = _n(cpu, "quota"), _n(cpu, "period")
    if quota or period:
        val = (str(quota) if quota > 0 else "max") + " " + str(period or 100000)
        s.append(("cpu", "cpu", "cpu.max", val, F + ("cpu.quota" if quota else "cpu.period"), 0))
    if cpu.get("idle") is not None:
        s.append(("cpu", "cpu", "cpu.idle", str(_n(cpu, "idle")), F + "cpu.idle", 0))
    if _n(cpu, "realtimePeriod") or _n(cpu, "realtimeRuntime"):
        s.append(("cpu", "cpu", None, f"{F}cpu.realtimeRuntime/realtimePeriod are ignored: cgroup v2 "
                  "has no realtime group scheduling", F + "cpu.realtimeRuntime", WARN))
    s += _cpuset(cpu)
    s += _pids(r)

    bio = r.get("blockIO") or {}
    w = _n(bio, "weight")
    if w:
        # BFQ takes the v1 value as is; io.weight needs the converted one.
        s.append(("blkio", "io", "io.bfq.weight|io.weight", f"{w}|{blkio_to_io_weight(w)}", F + "blockIO.weight", 0))
    for i, wd in enumerate(bio.get("weightDevice") or ()):
        if _n(wd, "weight"):
            # Only BFQ has per-device weights; runc skips them without it.
            s.append(("blkio", "io", "io.bfq.weight", _dev(wd, _n(wd, "weight")),
                      F + f"blockIO.weightDevice[{i}]", OPT))
    if _n(bio, "leafWeight"):
        s.append(("blkio", "io", None, f"{F}blockIO.leafWeight is ignored: cgroup v2 has no leaf weights",
                  F + "blockIO.leafWeight", WARN))
    for key, _, name in _THROTTLE:
        for i, td in enumerate(bio.get(key) or ()):
            s.append(("blkio", "io", "io.max", f"{int(td['major'])}:{int(td['minor'])} {name}={int(td['rate'])}",
                      F + f"blockIO.{key}[{i}]", 0))

    for i, h in enumerate(r.get("hugepageLimits") or ()):
        pre = f"hugetlb.{h['pageSize']}"
        s.append(("hugetlb", "hugetlb", pre + ".max", str(int(h["limit"])), F + f"hugepageLimits[{i}]", 0))
        s.append(("hugetlb", "hugetlb", pre + ".rsvd.max", str(int(h["limit"])), F + f"hugepageLimits[{i}]", OPT))

    net = r.get("network") or {}
    if _n(net, "classID") or net.get("priorities"):
        s.append(("network", None, None, f"{F}network is ignored: net_cls and net_prio are cgroup v1 "
                  "controllers (use an eBPF or nftables cgroup match on v2)", F + "network", WARN))
    s += _rdma_steps(r)
    return s


def plan_unified(r: dict | None) -> list[tuple]:
    """`unified` key/values (v2 only): written last so they override the converted values."""
    s = []
    for k, v in sorted(((r or {}).get("unified") or {}).items()):
        if "/" in k or k in ("", ".", ".."):
            raise ConfigError(F + f"unified: {k!r} must be a file name (no slashes)")
        ctrl = k.split(".", 1)[0] if "." in k else ""
        if not ctrl:
            raise ConfigError(F + f"unified: {k!r} must be in the form CONTROLLER.PARAMETER")
        s.append(("unified", ctrl, k, str(v), F + f"unified.{k}", LINES))
    return s
