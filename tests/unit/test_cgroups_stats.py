"""`events` data on a fake cgroup2 tree (this host's memory/cpu/io are v1, so the v2 readers
are checked here): runc's JSON shape, unit conversions, and the OOM counter watch."""

from __future__ import annotations

import os

from ociruntime import cgroups
from ociruntime.cgroups import stats

FILES = {
    "cgroup.controllers": "cpu memory pids io hugetlb cpuset",
    "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 70\n",
    "memory.stat": "anon 4096\nfile 8192\nkernel 1234\nsock 0\n",
    "memory.current": "12288\n", "memory.max": "1048576\n", "memory.peak": "20000\n",
    "memory.swap.current": "100\n", "memory.swap.max": "max\n",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    "pids.current": "2\n", "pids.max": "max\n",
    "io.stat": "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
    "hugetlb.2MB.current": "2097152\n", "hugetlb.2MB.max": "max\n", "hugetlb.2MB.events": "max 5\n",
    "cpuset.cpus.effective": "0-2,5\n", "cpuset.mems.effective": "0\n",
}


def tree(root):
    root.mkdir(exist_ok=True)
    (root / "cgroup.controllers").write_text("cpu memory pids io hugetlb cpuset\n")
    leaf = root / "x"
    leaf.mkdir()
    for k, v in FILES.items():
        (leaf / k).write_text(v)
    return cgroups.reopen(cgroups.for_container("cid", "/x", None, root=str(root)).describe())


def test_v2_stats_in_runcs_shape(tmp_path):
    s = tree(tmp_path).stats()
    assert s["cpu"] == {"usage": {"total": 1500000, "kernel": 500000, "user": 1000000},
                        "throttling": {"periods": 10, "throttledPeriods": 4, "throttledTime": 70000}}
    assert s["cpuset"] == {"cpus": [0, 1, 2, 5], "mems": [0]}
    mem = s["memory"]
    assert mem["cache"] == 8192 and mem["raw"]["anon"] == 4096
    assert mem["usage"] == {"limit": 1048576, "usage": 12288, "max": 20000, "failcnt": 3}
    # swap as v1 reported it: memory+swap; unlimited swap stays unlimited
    assert mem["swap"] == {"limit": 2**64 - 1, "usage": 12388, "failcnt": 3}
    assert s["pids"] == {"current": 2}                                  # "max" is no limit: omitted
    # Go's omitempty drops zero values: minor 0 and the zero discard counters' value
    assert s["blkio"] == {"ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 100},
                                                      {"major": 8, "op": "Write", "value": 200},
                                                      {"major": 8, "op": "Discard"}],
                          "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 1},
                                                  {"major": 8, "op": "Write", "value": 2},
                                                  {"major": 8, "op": "Discard"}]}
    assert s["hugetlb"] == {"2MB": {"usage": 2097152, "failcnt": 5}}
    assert s["intel_rdt"] == {} and s["network_interfaces"] is None


def test_v2_oom_watch_counts_oom_kills(tmp_path):
    m = tree(tmp_path)
    w = stats.OomWatch(m)
    try:
        assert w.kind == "v2"
        assert w.check() == 0                                   # the baseline is not reported
        (tmp_path / "x/memory.events").write_text("low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n")
        assert w.check() == 2
        assert w.check() == 0
        for f in os.listdir(tmp_path / "x"):
            os.unlink(tmp_path / "x" / f)
        os.rmdir(tmp_path / "x")
        assert w.check() == -1
    finally:
        w.close()


def test_no_memory_controller_no_watch(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("")
    (tmp_path / "x").mkdir()
    m = cgroups.reopen(cgroups.for_container("cid", "/x", None, root=str(tmp_path)).describe())
    w = stats.OomWatch(m)
    assert w.fd == -1
    w.close()
