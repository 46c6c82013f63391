"""Pure parsing behind process attributes and netDevices: cpu/node lists, sysctl names, the
values handed to sched_setattr, ioprio_set and set_mempolicy, interface names."""

from __future__ import annotations

import pytest

from ociruntime import network, procattrs
from ociruntime.syscalls import consts as C


@pytest.mark.parametrize("text,want", [
    ("", ()), ("0", (0,)), ("0-3", (0, 1, 2, 3)), ("0-1,7", (0, 1, 7)), ("3,1,1-2", (1, 2, 3)),
    (" 0 , 2 - 3 ", (0, 2, 3)), ("5-5", (5,)), (",,0,", (0,)),
])
def test_parse_list(text, want):
    assert procattrs.parse_list(text, procattrs.MAX_CPUS) == want


@pytest.mark.parametrize("text,fragment", [
    ("3-1", "backwards"), ("a", "not a number"), ("0-", "not a number"), ("-1", "not a number"),
    ("1-2-3", "not a number"), ("8192", "out of range"), ("0-9000", "out of range"),
])
def test_parse_list_errors(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        procattrs.parse_list(text, procattrs.MAX_CPUS)


@pytest.mark.parametrize("key,path", [
    ("net.ipv4.ip_forward", "net/ipv4/ip_forward"),
    ("net/ipv4/ip_forward", "net/ipv4/ip_forward"),
    # sysctl(8): in the dotted form a '/' stands for a dot inside one level (VLAN interfaces)...
    ("net.ipv4.conf.eth0/100.rp_filter", "net/ipv4/conf/eth0.100/rp_filter"),
    # ...and a name whose first separator is '/' is taken as a path, dots and all.
    ("net/ipv4/conf/eth0.100/rp_filter", "net/ipv4/conf/eth0.100/rp_filter"),
    ("kernel.shmmax", "kernel/shmmax"),
])
def test_sysctl_path(key, path):
    assert procattrs.sysctl_path(key) == path


@pytest.mark.parametrize("key", ["", "net..ipv4", "net.ipv4.", ".net", "net/../../etc/passwd",
                                 "net.ipv4/..", "/net/ipv4", "net\0x"])
def test_sysctl_path_rejects_escapes(key):
    with pytest.raises(ValueError):
        procattrs.sysctl_path(key)


@pytest.mark.parametrize("key,ns", [
    ("kernel.shmmax", "ipc"), ("kernel.msgmnb", "ipc"), ("kernel.shm_rmid_forced", "ipc"),
    ("fs.mqueue.queues_max", "ipc"), ("fs/mqueue/msg_max", "ipc"),
    ("net.ipv4.ip_forward", "network"), ("net/core/somaxconn", "network"),
    ("kernel.domainname", "uts"), ("kernel.hostname", "hostname"), ("user.max_user_namespaces", "user"),
    ("kernel.pid_max", None), ("vm.swappiness", None), ("kernel.shmmaxx", None), ("fs.file-max", None),
])
def test_sysctl_namespace(key, ns):
    assert procattrs.sysctl_namespace(key) == ns


def test_sched_args():
    assert procattrs.sched_args({"policy": "SCHED_FIFO", "priority": 10}) == dict(
        policy=1, flags=0, nice=0, priority=10, runtime=0, deadline=0, period=0)
    got = procattrs.sched_args({"policy": "SCHED_DEADLINE", "runtime": 10_000_000, "deadline": 30_000_000,
                                "period": 40_000_000, "flags": ["SCHED_FLAG_RESET_ON_FORK",
                                                                "SCHED_FLAG_DL_OVERRUN"]})
    assert got == dict(policy=6, flags=0x05, nice=0, priority=0, runtime=10_000_000, deadline=30_000_000,
                       period=40_000_000)
    assert procattrs.sched_args({"policy": "SCHED_BATCH", "nice": -3})["nice"] == -3


def test_ioprio_value():
    # include/uapi/linux/ioprio.h: IOPRIO_PRIO_VALUE(class, data) = class << 13 | data
    assert procattrs.ioprio_value({"class": "IOPRIO_CLASS_RT", "priority": 3}) == (1 << 13) | 3
    assert procattrs.ioprio_value({"class": "IOPRIO_CLASS_BE", "priority": 7}) == (2 << 13) | 7
    assert procattrs.ioprio_value({"class": "IOPRIO_CLASS_IDLE"}) == 3 << 13


def test_mempolicy_args():
    assert procattrs.mempolicy_args({"mode": "MPOL_BIND", "nodes": "0-1,3"}) == (2, (0, 1, 3))
    assert procattrs.mempolicy_args({"mode": "MPOL_INTERLEAVE", "nodes": "0",
                                     "flags": ["MPOL_F_STATIC_NODES"]}) == (3 | 0x8000, (0,))
    assert procattrs.mempolicy_args({"mode": "MPOL_LOCAL"}) == (4, ())
    assert procattrs.mempolicy_args({"mode": "MPOL_BIND", "nodes": "0",
                                     "flags": ["MPOL_F_NUMA_BALANCING"]}) == (2 | 0x2000, (0,))


def test_constant_tables_cover_the_schema():
    """Every enum value the v1.3.0 schema allows has a number here."""
    import json
    from pathlib import Path

    defs = json.loads((Path(procattrs.__file__).parent / "spec" / "defs-linux.json").read_text())["definitions"]
    assert set(defs["SchedulerPolicy"]["enum"]) == set(C.SCHED_POLICIES)
    assert set(defs["SchedulerFlag"]["enum"]) == set(C.SCHED_FLAGS)
    assert set(defs["MemoryPolicyMode"]["enum"]) == set(C.MPOL_MODES)
    assert set(defs["MemoryPolicyFlag"]["enum"]) == set(C.MPOL_FLAGS)
    assert set(defs["PersonalityDomain"]["enum"]) == set(C.PERSONALITY_DOMAINS)
    schema = json.loads((Path(procattrs.__file__).parent / "spec" / "config-schema.json").read_text())
    assert set(schema["properties"]["process"]["properties"]["ioPriority"]["properties"]["class"]["enum"]) \
        == set(C.IOPRIO_CLASSES)


@pytest.mark.parametrize("name,ok", [
    ("eth0", True), ("a", True), ("x" * 15, True), ("x" * 16, False), ("", False), (".", False),
    ("..", False), ("a/b", False), ("a:1", False), ("a b", False), ("a\tb", False), ("é" * 8, False),
])
def test_interface_names(name, ok):
    assert network.valid_name(name) is ok
