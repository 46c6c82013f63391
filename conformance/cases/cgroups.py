"""config-linux.md Control groups: cgroupsPath and resources, read from the files of the created
container's cgroup (found through /proc/<pid>/cgroup), in cgroup v1 or v2 form."""

from __future__ import annotations

import os

from .. import host
from ..harness import MUST, Ctx, case
from .common import SLEEP, pid_of, read

LNX = "config-linux.md"
APPLY = "(runtime.md Create: All of the properties configured in config.json except for process MUST be applied.)"


def created(t: Ctx, resources: dict | None = None, unified: dict | None = None) -> tuple[str, int]:
    """Create a container in cgroup /<id> with `resources`; returns (id, pid)."""
    cid = t.new_id()
    cfg = t.config(SLEEP)
    cfg["linux"]["cgroupsPath"] = f"/{cid}"
    if resources is not None:
        cfg["linux"]["resources"] = resources
    if unified is not None:
        cfg["linux"].setdefault("resources", {})["unified"] = unified
    t.create(t.bundle(config=cfg), cid=cid)
    return cid, pid_of(t, cid)


def value(t: Ctx, pid: int, controller: str, v1: str, v2: str) -> tuple[str, str]:
    path, kind = host.cgroup_file(pid, controller, v1, v2)
    return read(path, "<missing " + path + ">").strip(), kind


@case("cgroups-path", LNX, "Cgroups Path", MUST, "an absolute cgroupsPath is the container's cgroup under each mount point",
      """In the case of an absolute path (starting with `/`), the runtime MUST take the path to be
      relative to the cgroups mount point.""")
def cgroups_path(t: Ctx):
    cid, pid = created(t)
    groups = host.proc_cgroups(pid)
    wanted = ["memory", "pids", "cpu"] if host.cgroup_mode() != "unified" else [""]
    bad = {c: groups.get(c) for c in wanted if groups.get(c) != f"/{cid}"}
    t.expect(not bad, f"cgroups of the container process: {bad}, expected /{cid}")


@case("cgroups-memory", LNX, "Memory", MUST, "memory.limit and memory.reservation are in the cgroup's files",
      """`limit` (int64, OPTIONAL) - sets limit of memory usage. `reservation` (int64, OPTIONAL) -
      sets soft limit of memory usage. """ + APPLY)
def cgroups_memory(t: Ctx):
    _, pid = created(t, {"memory": {"limit": 64 << 20, "reservation": 32 << 20}})
    limit, kind = value(t, pid, "memory", "memory.limit_in_bytes", "memory.max")
    soft, _ = value(t, pid, "memory", "memory.soft_limit_in_bytes", "memory.low")
    t.expect(limit == str(64 << 20), f"{kind} memory limit is {limit}")
    t.expect(soft == str(32 << 20), f"{kind} memory reservation is {soft}")


@case("cgroups-pids", LNX, "PIDs", MUST, "pids.limit is pids.max",
      """`limit` (int64, REQUIRED) - specifies the maximum number of tasks in the cgroup. """ + APPLY)
def cgroups_pids(t: Ctx):
    _, pid = created(t, {"pids": {"limit": 64}})
    got, kind = value(t, pid, "pids", "pids.max", "pids.max")
    t.expect(got == "64", f"{kind} pids.max is {got}")


@case("cgroups-cpu", LNX, "CPU", MUST, "cpu.shares, quota and period are in the cgroup's files",
      """`shares` (uint64, OPTIONAL) - specifies a relative share of CPU time available to the tasks
      in a cgroup. `quota` (int64, OPTIONAL) ... `period` (uint64, OPTIONAL) ... """ + APPLY)
def cgroups_cpu(t: Ctx):
    _, pid = created(t, {"cpu": {"shares": 512, "quota": 50000, "period": 100000}})
    quota, kind = value(t, pid, "cpu", "cpu.cfs_quota_us", "cpu.max")
    if kind == "v1":
        shares, _ = value(t, pid, "cpu", "cpu.shares", "")
        period, _ = value(t, pid, "cpu", "cpu.cfs_period_us", "")
        t.expect((shares, quota, period) == ("512", "50000", "100000"),
                 f"cpu.shares, cfs_quota_us, cfs_period_us are {shares}, {quota}, {period}")
    else:
        weight, _ = value(t, pid, "cpu", "", "cpu.weight")
        t.expect(quota == "50000 100000", f"cpu.max is {quota!r}")
        t.expect(weight == str(1 + ((512 - 2) * 9999) // 262142), f"cpu.weight is {weight} for shares 512")


@case("cgroups-cpuset", LNX, "CPU", MUST, "cpu.cpus and cpu.mems are the cgroup's cpuset",
      """`cpus` (string, OPTIONAL) - list of CPUs the container will run on. `mems` (string,
      OPTIONAL) - list of memory nodes the container will run on. """ + APPLY)
def cgroups_cpuset(t: Ctx):
    _, pid = created(t, {"cpu": {"cpus": "0", "mems": "0"}})
    cpus, kind = value(t, pid, "cpuset", "cpuset.cpus", "cpuset.cpus")
    mems, _ = value(t, pid, "cpuset", "cpuset.mems", "cpuset.mems")
    t.expect((cpus, mems) == ("0", "0"), f"{kind} cpuset.cpus, cpuset.mems are {cpus!r}, {mems!r}")


@case("cgroups-unified-missing", LNX, "Unified", MUST, "unified keys of a controller absent from cgroup v2 are an error",
      """The runtime MUST generate an error when the configuration refers to a cgroup controller that
      is not present or that cannot be enabled.""")
def cgroups_unified_missing(t: Ctx):
    mode = host.cgroup_mode()
    base = host.CGROUP_ROOT if mode == "unified" else os.path.join(host.CGROUP_ROOT, "unified")
    present = read(os.path.join(base, "cgroup.controllers"), "").split()
    absent = [c for c in ("pids", "memory", "cpu", "io") if c not in present]
    if mode == "legacy" or not absent:
        t.skip("every usual controller is on the cgroup v2 hierarchy here")
    cid = t.new_id()
    cfg = t.config(SLEEP)
    cfg["linux"]["cgroupsPath"] = f"/{cid}"
    t.control(cfg)
    cfg["linux"]["resources"] = {"unified": {f"{absent[0]}.max": "10"}}
    r = t.create(t.bundle(config=cfg), cid=cid, ok=False)
    t.expect(r.rc != 0, f"create accepted unified {absent[0]}.max although cgroup v2 has no {absent[0]} controller here")


@case("cgroups-memory-swap", LNX, "Memory", MUST, "memory.swap is the memory+swap limit",
      """`swap` (int64, OPTIONAL) - sets limit of memory+Swap usage. """ + APPLY)
def cgroups_memory_swap(t: Ctx):
    _, pid = created(t, {"memory": {"limit": 64 << 20, "swap": 128 << 20}})
    got, kind = value(t, pid, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max")
    if got.startswith("<missing") and kind == "v1":
        t.skip("this host's memory cgroup has no swap accounting (memory.memsw.*)")
    want = str(128 << 20) if kind == "v1" else str(64 << 20)  # v2 counts swap alone
    t.expect(got == want, f"{kind} swap limit is {got}, expected {want}")


@case("cgroups-memory-oom-swappiness", LNX, "Memory", MUST, "disableOOMKiller and swappiness are in the memory cgroup (v1)",
      """`swappiness` (uint64, OPTIONAL) - sets swappiness parameter of vmscan ... `disableOOMKiller`
      (bool, OPTIONAL) - enables or disables the OOM killer. """ + APPLY)
def cgroups_memory_oom(t: Ctx):
    if host.cgroup_mode() == "unified":
        t.skip("cgroup v2 has no per-cgroup swappiness or OOM-killer switch")
    _, pid = created(t, {"memory": {"limit": 64 << 20, "disableOOMKiller": True, "swappiness": 10}})
    oom, _ = value(t, pid, "memory", "memory.oom_control", "")
    swp, _ = value(t, pid, "memory", "memory.swappiness", "")
    t.expect("oom_kill_disable 1" in oom.splitlines(), f"memory.oom_control: {oom.splitlines()[:1]}")
    t.expect(swp == "10", f"memory.swappiness is {swp}")


@case("cgroups-cpu-burst-idle", LNX, "CPU", MUST, "cpu.burst and cpu.idle are in the cgroup's files",
      """`burst` (uint64, OPTIONAL) - specifies the maximum amount of accumulated time in
      microseconds for which all tasks in a cgroup can run additionally for burst during one period.
      `idle` (int64, OPTIONAL) - cgroups are configured with minimum weight, 0: default behavior, 1:
      SCHED_IDLE. """ + APPLY,
      notes={"runc": "runc 1.1.5 writes neither cpu burst nor cpu.idle on cgroup v1",
             "crun": "crun 1.8 does not write the cpu burst (cpu.cfs_burst_us)"})
def cgroups_cpu_burst_idle(t: Ctx):
    _, pid = created(t, {"cpu": {"quota": 50000, "period": 100000, "burst": 10000, "idle": 1}})
    burst, kind = value(t, pid, "cpu", "cpu.cfs_burst_us", "cpu.max.burst")
    idle, _ = value(t, pid, "cpu", "cpu.idle", "cpu.idle")
    if burst.startswith("<missing") or idle.startswith("<missing"):
        t.skip(f"this kernel's cpu controller lacks burst or idle ({burst}, {idle})")
    t.expect((burst, idle) == ("10000", "1"), f"{kind} cpu burst, idle are {burst}, {idle}")
