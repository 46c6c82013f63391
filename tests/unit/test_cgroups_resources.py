"""linux.resources -> cgroup files, v1 and v2, with runc's conversions (pure plans)."""

from __future__ import annotations

import pytest

from ociruntime.cgroups import resources as R
from ociruntime.errors import ConfigError

FULL = {
    "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824, "kernel": 1048576,
               "kernelTCP": 2097152, "swappiness": 30, "disableOOMKiller": True},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 10000, "realtimeRuntime": 950000,
            "realtimePeriod": 1000000, "cpus": "0-1", "mems": "0", "idle": 1},
    "pids": {"limit": 64},
    "blockIO": {"weight": 500, "leafWeight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2097152}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 200}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}, {"pageSize": "1GB", "limit": 1073741824}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}, {"name": "lo", "priority": 1}]},
    "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {"hcaObjects": 1000}},
}


def files(plan):
    """[(controller, file, value, flags)] without group/field noise."""
    return [(s[1], s[2], s[3], s[5]) for s in plan]


def test_v1_every_resource():
    got = files(R.plan_v1(FULL))
    assert got == [
        ("memory", "memory.memsw.limit_in_bytes", "1073741824", R.DEFER),
        ("memory", "memory.limit_in_bytes", "536870912", 0),
        ("memory", "memory.kmem.limit_in_bytes", "1048576", R.OPT),
        ("memory", "memory.kmem.tcp.limit_in_bytes", "2097152", R.OPT),
        ("memory", "memory.soft_limit_in_bytes", "268435456", 0),
        ("memory", "memory.oom_control", "1", 0),
        ("memory", "memory.swappiness", "30", 0),
        ("cpu", "cpu.shares", "1024", R.VERIFY),
        ("cpu", "cpu.cfs_period_us", "100000", R.DEFER),
        ("cpu", "cpu.cfs_burst_us", "10000", R.DEFER),
        ("cpu", "cpu.cfs_quota_us", "50000", 0),
        ("cpu", "cpu.idle", "1", 0),
        ("cpu", "cpu.rt_period_us", "1000000", R.DEFER),
        ("cpu", "cpu.rt_runtime_us", "950000", 0),
        ("cpuset", "cpuset.cpus", "0-1", 0),
        ("cpuset", "cpuset.mems", "0", 0),
        ("pids", "pids.max", "64", 0),
        ("blkio", "blkio.weight|blkio.bfq.weight", "500", 0),
        ("blkio", "blkio.leaf_weight", "300", 0),
        ("blkio", "blkio.weight_device|blkio.bfq.weight_device", "8:0 600", 0),
        ("blkio", "blkio.leaf_weight_device", "8:0 200", 0),
        ("blkio", "blkio.throttle.read_bps_device", "8:0 1048576", 0),
        ("blkio", "blkio.throttle.write_bps_device", "8:16 2097152", 0),
        ("blkio", "blkio.throttle.read_iops_device", "8:0 100", 0),
        ("blkio", "blkio.throttle.write_iops_device", "8:0 200", 0),
        ("hugetlb", "hugetlb.2MB.limit_in_bytes", "209715200", 0),
        ("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes", "209715200", R.OPT),
        ("hugetlb", "hugetlb.1GB.limit_in_bytes", "1073741824", 0),
        ("hugetlb", "hugetlb.1GB.rsvd.limit_in_bytes", "1073741824", R.OPT),
        ("net_cls", "net_cls.classid", "1048577", 0),
        ("net_prio", "net_prio.ifpriomap", "eth0 500", 0),
        ("net_prio", "net_prio.ifpriomap", "lo 1", 0),
        ("rdma", "rdma.max", "mlx4_0 hca_object=1000", 0),
        ("rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000", 0),
    ]


def test_v2_every_resource_converted():
    got = files(R.plan_v2(FULL))
    writes = [g for g in got if not g[3] & R.WARN]
    assert writes == [
        ("memory", "memory.swap.max", str(1073741824 - 536870912), 0),   # v1 swap is memory+swap
        ("memory", "memory.max", "536870912", 0),
        ("memory", "memory.low", "268435456", 0),
        ("cpu", "cpu.weight", "39", 0),                                   # 1 + (1024-2)*9999/262142
        ("cpu", "cpu.max.burst", "10000", R.DEFER),
        ("cpu", "cpu.max", "50000 100000", 0),
        ("cpu", "cpu.idle", "1", 0),
        ("cpuset", "cpuset.cpus", "0-1", 0),
        ("cpuset", "cpuset.mems", "0", 0),
        ("pids", "pids.max", "64", 0),
        ("io", "io.bfq.weight|io.weight", "500|4950", 0),                 # BFQ raw, else 1+(500-10)*9999/990
        ("io", "io.bfq.weight", "8:0 600", R.OPT),
        ("io", "io.max", "8:0 rbps=1048576", 0),
        ("io", "io.max", "8:16 wbps=2097152", 0),
        ("io", "io.max", "8:0 riops=100", 0),
        ("io", "io.max", "8:0 wiops=200", 0),
        ("hugetlb", "hugetlb.2MB.max", "209715200", 0),
        ("hugetlb", "hugetlb.2MB.rsvd.max", "209715200", R.OPT),
        ("hugetlb", "hugetlb.1GB.max", "1073741824", 0),
        ("hugetlb", "hugetlb.1GB.rsvd.max", "1073741824", R.OPT),
        ("rdma", "rdma.max", "mlx4_0 hca_object=1000", 0),
        ("rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000", 0),
    ]
    # What v2 has no file for is said, not silently dropped.
    warned = {s[4] for s in R.plan_v2(FULL) if s[5] & R.WARN}
    assert warned == {"linux.resources.memory.kernel", "linux.resources.memory.kernelTCP",
                      "linux.resources.memory.swappiness", "linux.resources.memory.disableOOMKiller",
                      "linux.resources.cpu.realtimeRuntime", "linux.resources.blockIO.leafWeight",
                      "linux.resources.network"}


@pytest.mark.parametrize("shares, weight", [(2, 1), (1024, 39), (262144, 10000), (512, 20), (0, 0)])
def test_shares_to_weight(shares, weight):
    assert R.shares_to_weight(shares) == weight


@pytest.mark.parametrize("w, iow", [(10, 1), (1000, 10000), (500, 4950), (100, 910)])
def test_blkio_to_io_weight(w, iow):
    assert R.blkio_to_io_weight(w) == iow


@pytest.mark.parametrize("swap, mem, v2", [(0, -1, -1), (-1, 100, -1), (0, 100, 0), (300, 100, 200), (100, 100, 0)])
def test_swap_conversion(swap, mem, v2):
    assert R.swap_to_v2(swap, mem) == v2


def test_swap_equal_to_memory_disables_swap_on_v2():
    got = files(R.plan_v2({"memory": {"limit": 100, "swap": 100}}))
    assert ("memory", "memory.swap.max", "0", R.OPT) in got


def test_unlimited_memory_means_unlimited_swap():
    assert files(R.plan_v1({"memory": {"limit": -1}})) == [
        ("memory", "memory.memsw.limit_in_bytes", "-1", R.DEFER | R.OPT),
        ("memory", "memory.limit_in_bytes", "-1", 0)]
    assert files(R.plan_v2({"memory": {"limit": -1}})) == [
        ("memory", "memory.swap.max", "max", R.OPT), ("memory", "memory.max", "max", 0)]


@pytest.mark.parametrize("mem, msg", [
    ({"limit": 200, "swap": 100}, "memory\\+swap limit should be >= memory limit"),
    ({"swap": 100}, "unable to set swap limit without memory limit"),
])
def test_swap_errors_on_v2(mem, msg):
    with pytest.raises(ConfigError, match=msg):
        R.plan_v2({"memory": mem})


def test_swappiness_range():
    with pytest.raises(ConfigError, match="memory.swappiness: invalid value 101"):
        R.plan_v1({"memory": {"swappiness": 101}})
    assert R.plan_v1({"memory": {"swappiness": -1}}) == []        # -1: leave it (runc)


def test_cpu_max_forms():
    assert files(R.plan_v2({"cpu": {"quota": 20000}})) == [("cpu", "cpu.max", "20000 100000", 0)]
    assert files(R.plan_v2({"cpu": {"period": 50000}})) == [("cpu", "cpu.max", "max 50000", 0)]
    assert files(R.plan_v2({"cpu": {"quota": -1, "period": 50000}})) == [("cpu", "cpu.max", "max 50000", 0)]


def test_pids_zero_is_unchanged_negative_is_max():
    assert R.plan_v1({"pids": {"limit": 0}}) == []
    assert files(R.plan_v1({"pids": {"limit": -1}})) == [("pids", "pids.max", "max", 0)]
    assert files(R.plan_v2({"pids": {"limit": -1}})) == [("pids", "pids.max", "max", 0)]


def test_zero_burst_may_be_missing():
    # Disabling burst on a kernel without burst support is not an error (runc).
    assert files(R.plan_v1({"cpu": {"burst": 0}})) == [("cpu", "cpu.cfs_burst_us", "0", R.DEFER | R.OPT)]


def test_empty_and_absent_resources_plan_nothing():
    for r in (None, {}, {"memory": {}, "cpu": {}, "blockIO": {}}):
        assert R.plan_v1(r) == [] and R.plan_v2(r) == [] and R.plan_unified(r) == []


def test_unified_written_line_by_line_and_validated():
    got = R.plan_unified({"unified": {"memory.high": "1000000", "io.max": "8:0 rbps=1\n8:16 wbps=2"}})
    assert files(got) == [("io", "io.max", "8:0 rbps=1\n8:16 wbps=2", R.LINES),
                          ("memory", "memory.high", "1000000", R.LINES)]
    with pytest.raises(ConfigError, match="no slashes"):
        R.plan_unified({"unified": {"../../etc/passwd": "x"}})
    with pytest.raises(ConfigError, match="CONTROLLER.PARAMETER"):
        R.plan_unified({"unified": {"nodot": "x"}})


def test_every_step_names_its_config_field():
    for plan in (R.plan_v1(FULL), R.plan_v2(FULL)):
        for s in plan:
            assert s[4].startswith("linux.resources."), s
            assert s[0] in R.GROUPS, s
