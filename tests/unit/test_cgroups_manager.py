"""The manager's executor and routing on fake cgroup trees under tmp_path: which file of which
hierarchy receives which value, in which order, for v1, v2 and hybrid layouts; retries,
optional files, read-back checks, errors; and the container's cgroup mount plan."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ociruntime import cgroups
from ociruntime.cgroups import manager as M
from ociruntime.errors import ConfigError, PyociError, SetupError

V1_FILES = {
    "cpu": ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.idle",
            "cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.stat"],
    "cpuacct": ["cpuacct.usage", "cpuacct.stat", "cpuacct.usage_percpu", "cpuacct.usage_all"],
    "cpuset": ["cpuset.cpus", "cpuset.mems", "cpuset.effective_cpus", "cpuset.effective_mems"],
    "memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
               "memory.oom_control", "memory.swappiness", "memory.usage_in_bytes", "memory.max_usage_in_bytes",
               "memory.kmem.tcp.limit_in_bytes", "memory.stat", "memory.failcnt"],
    "devices": ["devices.allow", "devices.deny", "devices.list"],
    "freezer": ["freezer.state"],
    "blkio": ["blkio.bfq.weight", "blkio.bfq.weight_device", "blkio.throttle.read_bps_device",
              "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"],
    "pids": ["pids.max", "pids.current"],
    "hugetlb": ["hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.rsvd.limit_in_bytes"],
    "systemd": [],
    "net_cls": ["net_cls.classid"],
    "net_prio": ["net_prio.ifpriomap"],
    "rdma": ["rdma.max"],
}
V2_FILES = ["cgroup.procs", "cgroup.freeze", "cgroup.events", "cgroup.kill", "cgroup.controllers",
            "cgroup.subtree_control", "memory.max", "memory.swap.max", "memory.low", "memory.current",
            "memory.events", "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems",
            "memory.high", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max"]
DEFAULTS = {"cgroup.procs": "", "freezer.state": "THAWED\n", "cpuset.cpus": "", "cpuset.mems": "", "cgroup.freeze": "0\n",
            "cgroup.events": "populated 0\nfrozen 0\n", "memory.usage_in_bytes": "4096\n", "memory.current": "4096\n"}


def touch(d, names):
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_text(DEFAULTS.get(n, "0\n"))


def v1_tree(root, leaf="x", hierarchies=("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                                         "pids", "hugetlb", "systemd")):
    for h in hierarchies:
        touch(root / h, ["cgroup.procs"])
        if h == "cpuset":
            (root / h / "cpuset.cpus").write_text("0-3\n")
            (root / h / "cpuset.mems").write_text("0\n")
        touch(root / h / leaf, ["cgroup.procs"] + V1_FILES[h])
    return root


def v2_tree(root, leaf="x", controllers="cpu cpuset memory pids io hugetlb rdma"):
    touch(root, ["cgroup.controllers", "cgroup.subtree_control", "cgroup.procs"])
    (root / "cgroup.controllers").write_text(controllers + "\n")
    touch(root / leaf, V2_FILES)
    return root


class Recorder:
    """The manager's writer: records every write (relative to the tree) and performs it, so a
    missing file fails as it would on cgroupfs. fail={file: [errno, ...]} fails the next writes."""

    def __init__(self, root, fail=None, clamp=None):
        self.root, self.log, self.fail, self.clamp = str(root), [], dict(fail or {}), dict(clamp or {})

    def __call__(self, path, value):
        rel = os.path.relpath(path, self.root)
        name = os.path.basename(path)
        if self.fail.get(name):
            e = self.fail[name].pop(0)
            self.log.append((rel, value, os.strerror(e)))
            raise OSError(e, os.strerror(e), path)
        self.log.append((rel, value))
        M.write_file(path, self.clamp.get(name, value))

    def writes(self, prefix=""):
        return [w for w in self.log if w[0].startswith(prefix)]


def manager(root, resources, proc=None, rec=None, path="/x"):
    m = cgroups.for_container("cid", path, resources, root=str(root), _proc_cgroup=str(proc or "/dev/null"))
    m.writer = rec or Recorder(root)
    return m


def test_v1_create_writes_each_hierarchy(tmp_path):
    v1_tree(tmp_path)
    r = {"memory": {"limit": 1000, "swap": 2000}, "cpu": {"shares": 512, "quota": 20000, "period": 100000,
         "cpus": "1"}, "pids": {"limit": 9}, "blockIO": {"weight": 300},
         "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}
    m = manager(tmp_path, r)
    m.create()
    w = [x for x in m.writer.log if not x[0].startswith("devices")]
    assert w == [
        ("cpuset/x/cpuset.cpus", "0-3"), ("cpuset/x/cpuset.mems", "0"),       # inherited from the parent
        ("memory/x/memory.memsw.limit_in_bytes", "2000"), ("memory/x/memory.limit_in_bytes", "1000"),
        ("cpu/x/cpu.shares", "512"), ("cpu/x/cpu.cfs_period_us", "100000"), ("cpu/x/cpu.cfs_quota_us", "20000"),
        ("cpuset/x/cpuset.cpus", "1"),
        ("pids/x/pids.max", "9"),
        ("blkio/x/blkio.bfq.weight", "300"),                                   # no blkio.weight: BFQ's file
        ("hugetlb/x/hugetlb.2MB.limit_in_bytes", "4194304"), ("hugetlb/x/hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
    ]
    devs = m.writer.writes("devices")
    assert devs[0] == ("devices/x/devices.deny", "a") and ("devices/x/devices.allow", "c 1:3 rwm") in devs
    assert (tmp_path / "memory/x/memory.limit_in_bytes").read_text() == "1000"


def test_v1_creates_missing_levels_and_fills_cpuset(tmp_path):
    v1_tree(tmp_path, leaf="unused")
    m = manager(tmp_path, None, path="/a/b")

    made = []
    real = os.mkdir

    def mkdir(path, mode=0o777):
        # what cgroupfs does on mkdir: the new directory comes with the controller's files
        made.append(os.path.relpath(path, tmp_path))
        real(path, mode)
        name = os.path.relpath(path, tmp_path).split("/")[0]
        touch(Path(path), ["cgroup.procs"] + V1_FILES[name])

    os.mkdir = mkdir
    try:
        m.create()
    finally:
        os.mkdir = real
    assert "memory/a" in made and "memory/a/b" in made
    cs = [w for w in m.writer.log if w[0].startswith("cpuset")]
    assert cs == [("cpuset/a/cpuset.cpus", "0-3"), ("cpuset/a/cpuset.mems", "0"),
                  ("cpuset/a/b/cpuset.cpus", "0-3"), ("cpuset/a/b/cpuset.mems", "0")]


def test_v2_create_converts_and_enables_controllers(tmp_path):
    v2_tree(tmp_path)
    r = {"memory": {"limit": 1000, "swap": 3000}, "cpu": {"shares": 1024, "quota": 20000}, "pids": {"limit": 9},
         "blockIO": {"weight": 100}, "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
         "unified": {"memory.high": "900"}}
    m = manager(tmp_path, r)
    m.writer = rec = Recorder(tmp_path, fail={"<bpf>": []})
    import ociruntime.cgroups.bpf as bpf

    attached = []
    orig = bpf.attach_device_program
    bpf.attach_device_program = lambda d, prog: attached.append((d, prog)) or 1
    try:
        m.create()
    finally:
        bpf.attach_device_program = orig
    assert rec.log == [
        ("cgroup.subtree_control", "+cpu +cpuset +memory +pids +io +hugetlb +rdma"),
        ("x/memory.swap.max", "2000"), ("x/memory.max", "1000"),
        ("x/cpu.weight", "39"), ("x/cpu.max", "20000 100000"),
        ("x/pids.max", "9"),
        ("x/io.weight", "910"),                                              # no io.bfq.weight: converted
        ("x/hugetlb.2MB.max", "4194304"), ("x/hugetlb.2MB.rsvd.max", "4194304"),
        ("x/memory.high", "900"),                                            # unified last
    ]
    assert [a[0] for a in attached] == [str(tmp_path / "x")]                 # devices: one eBPF program


def test_hybrid_routes_hugetlb_to_whichever_side_has_it(tmp_path):
    v1_tree(tmp_path, hierarchies=("cpu", "memory", "devices", "freezer", "pids"))
    v2_tree(tmp_path / "unified", controllers="hugetlb")
    r = {"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}], "pids": {"limit": 3},
         "unified": {"hugetlb.2MB.max": "4194304"}}
    m = manager(tmp_path, r)
    m.create()
    w = [x for x in m.writer.log if not x[0].startswith("devices")]
    assert w == [("unified/cgroup.subtree_control", "+hugetlb"), ("pids/x/pids.max", "3"),
                 ("unified/x/hugetlb.2MB.max", "2097152"), ("unified/x/hugetlb.2MB.rsvd.max", "2097152"),
                 ("unified/x/hugetlb.2MB.max", "4194304")]
    # ... and the other way round: hugetlb mounted as v1 (the crun workaround) takes precedence.
    other = tmp_path / "o"
    v1_tree(other, hierarchies=("memory", "devices", "hugetlb"))
    v2_tree(other / "unified", controllers="")
    m = manager(other, {"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]})
    m.create()
    assert ("hugetlb/x/hugetlb.2MB.limit_in_bytes", "2097152") in m.writer.log


def test_hybrid_processes_join_v1_and_unified(tmp_path):
    v1_tree(tmp_path, hierarchies=("memory", "devices", "freezer"))
    v2_tree(tmp_path / "unified", controllers="")
    m = manager(tmp_path, None)
    m.add(4242)
    assert sorted(w for w in m.writer.log) == [("devices/x/cgroup.procs", "4242"), ("freezer/x/cgroup.procs", "4242"),
                                               ("memory/x/cgroup.procs", "4242"), ("unified/x/cgroup.procs", "4242")]


@pytest.mark.parametrize("r, field", [
    ({"network": {"classID": 7}}, "linux.resources.network.classID: the net_cls cgroup controller"),
    ({"rdma": {"mlx5_0": {"hcaHandles": 1}}}, "linux.resources.rdma.mlx5_0: the rdma cgroup controller"),
    ({"unified": {"memory.high": "1"}}, "cannot use unified on cgroup v1"),
])
def test_missing_controller_is_a_clear_error_and_leaves_nothing(tmp_path, r, field):
    v1_tree(tmp_path, leaf="other")
    m = manager(tmp_path, r)
    with pytest.raises(ConfigError, match=field):
        m.create()
    assert not any((tmp_path / h / "x").exists() for h in V1_FILES)


def test_hybrid_unified_key_needs_the_controller_there(tmp_path):
    v1_tree(tmp_path, hierarchies=("memory", "devices"))
    v2_tree(tmp_path / "unified", controllers="")
    with pytest.raises(ConfigError, match="memory controller is not on the cgroup v2 side"):
        manager(tmp_path, {"unified": {"memory.high": "1"}}).create()
    # core files are always there
    m = manager(tmp_path, {"unified": {"cgroup.max.depth": "3"}})
    (tmp_path / "unified/x/cgroup.max.depth").write_text("max")
    m.create()
    assert ("unified/x/cgroup.max.depth", "3") in m.writer.log


def test_deferred_write_is_retried_after_the_next(tmp_path):
    v1_tree(tmp_path)
    rec = Recorder(tmp_path, fail={"cpu.cfs_period_us": [errno.EINVAL], "memory.memsw.limit_in_bytes": [errno.EINVAL]})
    m = manager(tmp_path, {"cpu": {"quota": 5000, "period": 10000}, "memory": {"limit": 100, "swap": 200}}, rec=rec)
    m.create()
    cpu_mem = [w for w in rec.log if w[0].startswith(("cpu/", "memory/"))]
    assert cpu_mem == [
        ("memory/x/memory.memsw.limit_in_bytes", "200", "Invalid argument"),   # lowering: memsw < old limit
        ("memory/x/memory.limit_in_bytes", "100"),
        ("memory/x/memory.memsw.limit_in_bytes", "200"),
        ("cpu/x/cpu.cfs_period_us", "10000", "Invalid argument"),
        ("cpu/x/cpu.cfs_quota_us", "5000"),
        ("cpu/x/cpu.cfs_period_us", "10000"),
    ]


def test_deferred_write_failing_again_is_an_error_naming_field_and_file(tmp_path):
    v1_tree(tmp_path)
    rec = Recorder(tmp_path, fail={"cpu.cfs_period_us": [errno.EINVAL, errno.EINVAL]})
    m = manager(tmp_path, {"cpu": {"quota": 5000, "period": 10000}}, rec=rec)
    with pytest.raises(SetupError) as e:
        m.create()
    msg = str(e.value)
    assert "linux.resources.cpu.period" in msg and "cpu/x/cpu.cfs_period_us" in msg and "invalid argument" in msg
    assert "\n" not in msg


def test_cpu_shares_are_read_back(tmp_path):
    v1_tree(tmp_path)
    m = manager(tmp_path, {"cpu": {"shares": 1}}, rec=Recorder(tmp_path, clamp={"cpu.shares": "2"}))
    with pytest.raises(ConfigError, match="minimum allowed cpu-shares is 2"):
        m.create()
    m = manager(tmp_path, {"cpu": {"shares": 999999}}, rec=Recorder(tmp_path, clamp={"cpu.shares": "262144"}))
    with pytest.raises(ConfigError, match="maximum allowed cpu-shares is 262144"):
        m.create()


def test_optional_files(tmp_path, capfd):
    v1_tree(tmp_path)
    os.unlink(tmp_path / "memory/x/memory.memsw.limit_in_bytes")      # no swap accounting
    m = manager(tmp_path, {"memory": {"limit": -1, "kernel": 4096, "kernelTCP": 8192}})
    m.create()
    w = [x for x in m.writer.log if x[0].startswith("memory")]
    # memsw skipped (unlimited anyway), kmem skipped with a warning (removed from this "kernel")
    assert w == [("memory/x/memory.limit_in_bytes", "-1"), ("memory/x/memory.kmem.tcp.limit_in_bytes", "8192")]
    assert "memory.kernel is ignored" in capfd.readouterr().err
    # an explicitly requested swap limit without swap accounting is an error
    with pytest.raises(SetupError, match="memory.memsw.limit_in_bytes: no such file"):
        manager(tmp_path, {"memory": {"limit": 100, "swap": 200}}).create()


def test_v2_missing_file_hints_at_the_controller(tmp_path):
    v2_tree(tmp_path, controllers="")
    os.unlink(tmp_path / "x/memory.max")
    m = manager(tmp_path, {"memory": {"limit": 100}})
    with pytest.raises(SetupError, match=r"linux.resources.memory.limit: .*memory.max: no such file .*memory controller"):
        m._apply(m.resources, devices=False)


def test_update_merges_and_completes_cpu_max(tmp_path):
    v2_tree(tmp_path)
    m = manager(tmp_path, {"cpu": {"quota": 20000, "period": 50000}, "memory": {"limit": 1000}})
    m._apply(m.resources, devices=False)
    m2 = cgroups.reopen(m.describe())
    m2.writer = rec = Recorder(tmp_path)
    m2.apply({"cpu": {"quota": 40000}})
    assert rec.log == [("x/cpu.max", "40000 50000")]                      # the stored period is kept
    assert m2.describe()["resources"] == {"cpu": {"quota": 40000, "period": 50000}, "memory": {"limit": 1000}}
    rec.log.clear()
    m2.apply({"cpu": {"period": 100000}})
    assert rec.log == [("x/cpu.max", "40000 100000")]


def test_update_never_touches_devices(tmp_path):
    v1_tree(tmp_path)
    m = manager(tmp_path, None)
    m.apply({"devices": [{"allow": True, "access": "rwm"}], "pids": {"limit": 4}})
    assert m.writer.log == [("pids/x/pids.max", "4")]


def test_check_before_update(tmp_path):
    v1_tree(tmp_path)
    (tmp_path / "memory/x/memory.usage_in_bytes").write_text("5000\n")
    m = manager(tmp_path, None)
    with pytest.raises(ConfigError, match="rejecting memory limit 4000 below current usage 5000"):
        m.apply({"memory": {"limit": 4000, "checkBeforeUpdate": True}})
    assert m.writer.log == []
    m.apply({"memory": {"limit": 4000}})                                  # without the check: the kernel decides
    assert m.writer.log == [("memory/x/memory.limit_in_bytes", "4000")]


def test_memory_ebusy_reports_usage(tmp_path):
    v1_tree(tmp_path)
    (tmp_path / "memory/x/memory.usage_in_bytes").write_text("5000\n")
    (tmp_path / "memory/x/memory.max_usage_in_bytes").write_text("7000\n")
    m = manager(tmp_path, None, rec=Recorder(tmp_path, fail={"memory.limit_in_bytes": [errno.EBUSY]}))
    with pytest.raises(SetupError, match=r"unable to set memory limit to 100 \(current usage: 5000, peak usage: 7000\)"):
        m.apply({"memory": {"limit": 100}})


def test_devices_need_a_controller_or_cgroup2(tmp_path):
    v1_tree(tmp_path, hierarchies=("memory", "pids"))
    with pytest.raises(ConfigError, match="no devices cgroup controller"):
        manager(tmp_path, None).create()


def test_existing_cgroup_with_processes_is_refused(tmp_path):
    v1_tree(tmp_path)
    (tmp_path / "freezer/x/cgroup.procs").write_text("1\n2\n")
    with pytest.raises(PyociError, match="container's cgroup is not empty: 2 process"):
        manager(tmp_path, None).create()
    (tmp_path / "freezer/x/cgroup.procs").write_text("")
    (tmp_path / "freezer/x/freezer.state").write_text("FROZEN\n")
    with pytest.raises(PyociError, match="unexpectedly frozen"):
        manager(tmp_path, None).create()


def test_a_refused_create_never_touches_the_other_containers_cgroup(tmp_path):
    # The lifecycle cleans up a failed create with kill(9), thaw() and destroy(): on a cgroup that
    # belongs to another container (same cgroupsPath) these must do nothing.
    v1_tree(tmp_path)
    (tmp_path / "freezer/x/cgroup.procs").write_text(f"{os.getpid()}\n")
    (tmp_path / "freezer/x/freezer.state").write_text("FROZEN\n")
    for r in (None, {"network": {"classID": 1}}):       # refused as busy / as a config error
        m = manager(tmp_path, r)
        with pytest.raises(PyociError):
            m.create()
        m.kill(9)
        m.thaw()
        m.destroy()
        assert m.writer.log == [] and (tmp_path / "freezer/x").is_dir()
        assert (tmp_path / "freezer/x/freezer.state").read_text() == "FROZEN\n"


def test_pids_walk_sub_cgroups(tmp_path):
    v2_tree(tmp_path)
    (tmp_path / "x/cgroup.procs").write_text("10\n11\n")
    touch(tmp_path / "x/sub", ["cgroup.procs"])
    (tmp_path / "x/sub/cgroup.procs").write_text("12\n")
    assert sorted(manager(tmp_path, None).pids()) == [10, 11, 12]


def owned(m):
    """A manager as `pause`/`kill` get it: reopened from the container's state."""
    r = cgroups.reopen(m.describe())
    r.writer = m.writer
    return r


def test_freeze_and_thaw_files(tmp_path):
    v1_tree(tmp_path)
    m = owned(manager(tmp_path, None))
    m.freeze()
    assert m.is_frozen() and m.writer.log == [("freezer/x/freezer.state", "FROZEN")]
    m.thaw()
    assert not m.is_frozen()
    v2 = tmp_path / "v2"
    v2_tree(v2)
    (v2 / "x/cgroup.events").write_text("populated 1\nfrozen 1\n")      # the kernel's answer
    m = owned(manager(v2, None))
    m.freeze()
    assert m.is_frozen() and m.writer.log == [("x/cgroup.freeze", "1")]
    m.thaw()
    assert m.writer.log[-1] == ("x/cgroup.freeze", "0") and not m.is_frozen()


def test_v2_freeze_times_out_cleanly(tmp_path):
    v2_tree(tmp_path)
    m = owned(manager(tmp_path, None))   # cgroup.events keeps saying frozen 0
    with pytest.raises(SetupError, match="timeout of 1s"):
        m.freeze()
    assert m.writer.log[-1] == ("x/cgroup.freeze", "0")


def test_container_mounts_v1_and_hybrid(tmp_path):
    root = tmp_path
    for h in ("cpu,cpuacct", "memory", "systemd"):
        touch(root / h, ["cgroup.procs"])
    os.symlink("cpu,cpuacct", root / "cpu")
    os.symlink("cpu,cpuacct", root / "cpuacct")
    m = cgroups.for_container("cid", "/p/cid", None, root=str(root))
    d = m.describe()
    assert cgroups.container_mounts(d, cgroupns=False) == [
        {"op": "mount", "fstype": "tmpfs", "source": "tmpfs", "options": "mode=755", "target": ""},
        {"op": "bind", "source": f"{root}/cpu,cpuacct/p/cid", "target": "cpu,cpuacct"},
        {"op": "bind", "source": f"{root}/memory/p/cid", "target": "memory"},
        {"op": "bind", "source": f"{root}/systemd/p/cid", "target": "systemd"},
        {"op": "symlink", "target": "cpu,cpuacct", "link": "cpu"},
        {"op": "symlink", "target": "cpu,cpuacct", "link": "cpuacct"},
    ]
    ns = cgroups.container_mounts(d, cgroupns=True)
    assert ns[1:4] == [
        {"op": "mount", "fstype": "cgroup", "source": "cgroup", "options": "cpu,cpuacct", "target": "cpu,cpuacct"},
        {"op": "mount", "fstype": "cgroup", "source": "cgroup", "options": "memory", "target": "memory"},
        {"op": "mount", "fstype": "cgroup", "source": "cgroup", "options": "name=systemd", "target": "systemd"}]
    v2_tree(root / "unified", controllers="")
    d = cgroups.for_container("cid", "/p/cid", None, root=str(root)).describe()
    assert {"op": "bind", "source": f"{root}/unified/p/cid", "target": "unified"} in cgroups.container_mounts(d, False)
    assert {"op": "mount", "fstype": "cgroup2", "source": "cgroup2", "options": "", "target": "unified"} in \
        cgroups.container_mounts(d, True)


def test_container_mounts_v2(tmp_path):
    v2_tree(tmp_path)
    d = cgroups.for_container("cid", "/x", None, root=str(tmp_path)).describe()
    assert cgroups.container_mounts(d, True) == [
        {"op": "mount", "fstype": "cgroup2", "source": "cgroup2", "options": "", "target": ""}]
    assert cgroups.container_mounts(d, False) == [{"op": "bind", "source": f"{tmp_path}/x", "target": ""}]
    assert cgroups.container_mounts({}, True) == []


def test_hot_path_import_is_light():
    import subprocess
    import sys

    code = ("import sys; import ociruntime.cgroups as c; c.is_frozen({}); "
            "print(sorted(m for m in sys.modules if m.startswith('ociruntime')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ociruntime', 'ociruntime.cgroups']"
