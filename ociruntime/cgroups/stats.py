"""`events`: a container's cgroup statistics in runc's JSON shape (runc types/events.go), and the
OOM notifications (v1: an eventfd on memory.oom_control via cgroup.event_control; v2: poll for
changes of memory.events and count oom_kill, as runc's notify_v2 does with inotify)."""

from __future__ import annotations

import os

from .manager import Manager, read_file

_MAX_U64 = 2**64 - 1


def _read(d: str | None, f: str) -> str | None:
    if not d:
        return None
    try:
        return read_file(os.path.join(d, f))
    except OSError:
        return None


def _int(d: str | None, f: str) -> int:
    s = _read(d, f)
    if not s or not s.strip():
        return 0
    s = s.split()[0]
    return _MAX_U64 if s == "max" else int(s)


def _kv(d: str | None, f: str) -> dict[str, int]:
    out = {}
    for line in (_read(d, f) or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _omit(d: dict, *keys: str) -> dict:
    """Go's omitempty: zero numbers and empty lists of the listed keys disappear."""
    for k in keys:
        if not d.get(k):
            d.pop(k, None)
    return d


def _cpu_list(s: str | None) -> list[int]:
    out: list[int] = []
    for part in (s or "").strip().split(","):
        if "-" in part:
            a, b = part.split("-")
            out += range(int(a), int(b) + 1)
        elif part:
            out.append(int(part))
    return out


def _mem_entry(limit: int, usage: int, peak: int, failcnt: int) -> dict:
    return _omit({"limit": limit, "usage": usage, "max": peak, "failcnt": failcnt}, "usage", "max")


def _blkio_v1(d: str | None) -> dict:
    out: dict = {}
    for pre in ("blkio.", "blkio.bfq.", "blkio.throttle."):
        got = {}
        for key, f in (("ioServiceBytesRecursive", "io_service_bytes_recursive"),
                       ("ioServicedRecursive", "io_serviced_recursive")):
            entries = []
            for line in (_read(d, pre + f) or "").splitlines():
                p = line.split()
                if len(p) == 3 and ":" in p[0]:
                    ma, mi = p[0].split(":")
                    entries.append(_omit({"major": int(ma), "minor": int(mi), "op": p[1], "value": int(p[2])},
                                         "major", "minor", "op", "value"))
            if entries:
                got[key] = entries
        if got:
            return got
    return out


def _blkio_v2(d: str | None) -> dict:
    sb, sv = [], []
    for line in (_read(d, "io.stat") or "").splitlines():
        p = line.split()
        if not p or ":" not in p[0]:
            continue
        ma, mi = (int(x) for x in p[0].split(":"))
        for kv in p[1:]:
            k, _, v = kv.partition("=")
            op = {"rbytes": "Read", "wbytes": "Write", "dbytes": "Discard",
                  "rios": "Read", "wios": "Write", "dios": "Discard"}.get(k)
            if op:
                (sb if k.endswith("bytes") else sv).append(
                    _omit({"major": ma, "minor": mi, "op": op, "value": int(v)}, "major", "minor", "op", "value"))
    return _omit({"ioServiceBytesRecursive": sb, "ioServicedRecursive": sv},
                 "ioServiceBytesRecursive", "ioServicedRecursive")


def _hugetlb(d: str | None, v2: bool) -> dict:
    out = {}
    if not d:
        return out
    try:
        names = os.listdir(d)
    except OSError:
        return out
    sizes = sorted({n.split(".")[1] for n in names if n.startswith("hugetlb.") and n.count(".") >= 2})
    for size in sizes:
        if v2:
            ent = {"usage": _int(d, f"hugetlb.{size}.current"), "max": 0,
                   "failcnt": _kv(d, f"hugetlb.{size}.events").get("max", 0)}
        else:
            ent = {"usage": _int(d, f"hugetlb.{size}.usage_in_bytes"),
                   "max": _int(d, f"hugetlb.{size}.max_usage_in_bytes"),
                   "failcnt": _int(d, f"hugetlb.{size}.failcnt")}
        out[size] = _omit(ent, "usage", "max")
    return out


def collect(m: Manager) -> dict:
    ctl = m.v1_controllers()
    uni = m.d.get("unified")
    v2 = m.d["mode"] == "v2"
    s: dict = {"cpu": {}, "cpuset": {}, "memory": {}, "pids": {}, "blkio": {}, "hugetlb": {},
               "intel_rdt": {}, "network_interfaces": None}

    # cpu
    if v2 or ("cpuacct" not in ctl and uni):
        st = _kv(uni, "cpu.stat")
        usage = {"total": st.get("usage_usec", 0) * 1000, "kernel": st.get("system_usec", 0) * 1000,
                 "user": st.get("user_usec", 0) * 1000}
        thr = {"periods": st.get("nr_periods", 0), "throttledPeriods": st.get("nr_throttled", 0),
               "throttledTime": st.get("throttled_usec", 0) * 1000}
    else:
        ca = ctl.get("cpuacct")
        tick = os.sysconf("SC_CLK_TCK") or 100
        cs = _kv(ca, "cpuacct.stat")
        per_k, per_u = [], []
        for line in (_read(ca, "cpuacct.usage_all") or "").splitlines()[1:]:
            p = line.split()
            if len(p) == 3:
                per_u.append(int(p[1]))
                per_k.append(int(p[2]))
        usage = {"total": _int(ca, "cpuacct.usage"),
                 "percpu": [int(x) for x in (_read(ca, "cpuacct.usage_percpu") or "").split()],
                 "percpu_kernel": per_k, "percpu_user": per_u,
                 "kernel": cs.get("system", 0) * 1_000_000_000 // tick,
                 "user": cs.get("user", 0) * 1_000_000_000 // tick}
        st = _kv(ctl.get("cpu"), "cpu.stat")
        thr = {"periods": st.get("nr_periods", 0), "throttledPeriods": st.get("nr_throttled", 0),
               "throttledTime": st.get("throttled_time", 0)}
    s["cpu"] = {"usage": _omit(usage, "total", "percpu", "percpu_kernel", "percpu_user"),
                "throttling": _omit(thr, "periods", "throttledPeriods", "throttledTime")}

    # cpuset
    cd = uni if v2 else ctl.get("cpuset")
    if cd:
        pre = "cpuset."
        cs = {"cpus": _cpu_list(_read(cd, pre + ("cpus.effective" if v2 else "effective_cpus"))),
              "mems": _cpu_list(_read(cd, pre + ("mems.effective" if v2 else "effective_mems")))}
        if not v2:
            for k in ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                      "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level"):
                cs[k] = _int(cd, pre + k) if k != "sched_relax_domain_level" else int((_read(cd, pre + k) or "0").strip() or 0)
        s["cpuset"] = _omit(cs, "cpus", "mems")

    # memory
    if v2 or ("memory" not in ctl and uni):
        raw = _kv(uni, "memory.stat")
        ev = _kv(uni, "memory.events")
        lim, use = _int(uni, "memory.max"), _int(uni, "memory.current")
        slim, suse = _int(uni, "memory.swap.max"), _int(uni, "memory.swap.current")
        # v1 reported swap as memory+swap; runc keeps that meaning on v2.
        if slim != _MAX_U64 and lim != _MAX_U64:
            slim += lim
        s["memory"] = _omit({"cache": raw.get("file", 0), "usage": _mem_entry(lim, use, _int(uni, "memory.peak"), ev.get("max", 0)),
                             "swap": _mem_entry(slim, suse + use, 0, ev.get("max", 0)),
                             "kernel": _mem_entry(0, raw.get("kernel", 0), 0, 0),
                             "kernelTCP": _mem_entry(0, raw.get("sock", 0), 0, 0), "raw": raw}, "cache", "raw")
    else:
        md = ctl.get("memory")
        raw = _kv(md, "memory.stat")

        def ent(pre: str) -> dict:
            return _mem_entry(_int(md, pre + "limit_in_bytes"), _int(md, pre + "usage_in_bytes"),
                              _int(md, pre + "max_usage_in_bytes"), _int(md, pre + "failcnt"))

        s["memory"] = _omit({"cache": raw.get("cache", 0), "usage": ent("memory."), "swap": ent("memory.memsw."),
                             "kernel": ent("memory.kmem."), "kernelTCP": ent("memory.kmem.tcp."), "raw": raw},
                            "cache", "raw")

    # pids
    pd = uni if (v2 or "pids" not in ctl) else ctl.get("pids")
    lim = _int(pd, "pids.max")
    s["pids"] = _omit({"current": _int(pd, "pids.current"), "limit": 0 if lim == _MAX_U64 else lim},
                      "current", "limit")

    s["blkio"] = _blkio_v2(uni) if (v2 or "blkio" not in ctl) else _blkio_v1(ctl.get("blkio"))
    if "hugetlb" in ctl:
        s["hugetlb"] = _hugetlb(ctl["hugetlb"], False)
    elif uni and "hugetlb" in (m.d.get("uctl") or ()) or v2:
        s["hugetlb"] = _hugetlb(uni, True)
    return s


class OomWatch:
    """An fd to poll for OOM notifications; `check()` says how many OOM kills happened since the
    last call, or -1 once the cgroup is gone."""

    def __init__(self, m: Manager) -> None:
        self.fd = -1
        self.kind = ""
        self._files: list[int] = []
        md = m.v1_controllers().get("memory")
        uni = m.d.get("unified")
        if md:
            ocfd = os.open(os.path.join(md, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            efd = os.eventfd(0, os.EFD_CLOEXEC)
            self._files = [ocfd]
            # cgroup v1 event API: "<eventfd> <fd of memory.oom_control>" (Documentation/admin-guide/cgroup-v1/memory.rst)
            with open(os.path.join(md, "cgroup.event_control"), "w") as f:
                f.write(f"{efd} {ocfd}")
            self.fd, self.kind, self.dir = efd, "v1", md
        elif uni and os.path.exists(os.path.join(uni, "memory.events")):
            self.fd = os.open(os.path.join(uni, "memory.events"), os.O_RDONLY | os.O_CLOEXEC)
            self.kind, self.dir = "v2", uni
            self._last = self._oom_kills()

    def events(self) -> int:
        """POLLIN for the eventfd, POLLPRI for a kernfs file (it signals changes that way)."""
        import select

        return select.POLLIN if self.kind == "v1" else select.POLLPRI | select.POLLERR

    def _oom_kills(self) -> int:
        os.lseek(self.fd, 0, os.SEEK_SET)
        for line in os.read(self.fd, 4096).decode().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def check(self) -> int:
        if not os.path.isdir(self.dir):
            return -1
        if self.kind == "v1":
            try:
                n = int.from_bytes(os.read(self.fd, 8), "little")
            except BlockingIOError:
                return 0
            # The eventfd also fires when the cgroup is removed.
            return n if os.path.isdir(self.dir) else -1
        now = self._oom_kills()
        n, self._last = now - self._last, now
        return n

    def close(self) -> None:
        for fd in [self.fd] + self._files:
            if fd >= 0:
                os.close(fd)
        self.fd = -1
