"""The cgroup manager on this host's real hierarchies (hybrid: v1 controllers + cgroup2 at
/sys/fs/cgroup/unified), with real processes: join, limits, freeze/thaw, kill through the
cgroup, device control (v1 list and a v2 eBPF program), OOM notification, destroy."""

from __future__ import annotations

import os
import sys
import signal
import subprocess
import time
import uuid

import pytest

from ociruntime import cgroups
from ociruntime.cgroups import bpf, devices, stats
from ociruntime.errors import ConfigError, PyociError

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.isdir("/sys/fs/cgroup/freezer"),
                                reason="needs root and cgroup v1 hierarchies")
UNIFIED = "/sys/fs/cgroup/unified"
HAS_UNIFIED = os.path.exists(os.path.join(UNIFIED, "cgroup.procs"))
BUSY = ["sh", "-c", "while :; do :; done"]


def uctl() -> list[str]:
    with open(os.path.join(UNIFIED, "cgroup.controllers")) as f:
        return f.read().split()


@pytest.fixture
def mk():
    """Make managers for unique /pyoci-test-<uuid> paths; kill and remove everything at the end."""
    made: list = []
    procs: list[subprocess.Popen] = []

    def make(resources=None, root="/sys/fs/cgroup", path=None, **kw):
        cid = "pyoci-test-" + uuid.uuid4().hex[:10]
        m = cgroups.for_container(cid, path if path is not None else "/" + cid, resources, root=root, **kw)
        made.append(m)
        return m

    def spawn(m, argv=("sleep", "60")):
        p = subprocess.Popen(list(argv), preexec_fn=lambda: m.add(os.getpid()))
        procs.append(p)
        return p

    make.spawn = spawn
    yield make
    for p in procs:
        if p.poll() is None:
            p.kill()
    for m in made:
        try:
            if m.exists():
                if m.is_frozen():
                    m.thaw()
                m.kill(signal.SIGKILL)
                m.destroy()
        except PyociError:
            pass
    for p in procs:
        p.wait(timeout=10)
    left = [d for m in made for d in m.dirs() if os.path.exists(d)]
    assert not left, f"cgroups left behind: {left}"


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def progresses(pid: int, dt: float = 0.4) -> bool:
    a = cpu_ticks(pid)
    time.sleep(dt)
    return cpu_ticks(pid) > a


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def test_hybrid_lifecycle_limits_join_freeze_kill_destroy(mk):
    m = mk({"memory": {"limit": 67108864, "reservation": 33554432}, "cpu": {"shares": 512, "quota": 20000,
            "period": 100000, "cpus": "0"}, "pids": {"limit": 16}, "blockIO": {"weight": 300}})
    d = m.describe()
    assert d["mode"] == ("hybrid" if HAS_UNIFIED else "v1")
    m.create()
    ctl = m.v1_controllers()
    assert read(ctl["memory"] + "/memory.limit_in_bytes") == "67108864"
    assert read(ctl["memory"] + "/memory.soft_limit_in_bytes") == "33554432"
    assert read(ctl["cpu"] + "/cpu.shares") == "512"
    assert read(ctl["cpu"] + "/cpu.cfs_quota_us") == "20000"
    assert read(ctl["cpuset"] + "/cpuset.cpus") == "0"
    assert read(ctl["pids"] + "/pids.max") == "16"
    weight = next(f for f in ("/blkio.weight", "/blkio.bfq.weight") if os.path.exists(ctl["blkio"] + f))
    assert read(ctl["blkio"] + weight).split()[-1] == "300"          # BFQ's file reads "default 300"
    assert "c 1:3 rwm" in read(ctl["devices"] + "/devices.list").splitlines()

    p = mk.spawn(m, BUSY)
    time.sleep(0.2)
    assert m.pids() == [p.pid]
    for dd in m.dirs():            # every v1 hierarchy, name=systemd, and unified
        assert str(p.pid) in read(dd + "/cgroup.procs").split(), dd
    if HAS_UNIFIED:
        assert d["unified"] in m.dirs()

    m.freeze()
    assert read(d["freeze"]) == "FROZEN" and cgroups.is_frozen(d) and m.is_frozen()
    assert not progresses(p.pid)
    m.thaw()
    assert not cgroups.is_frozen(d)
    assert progresses(p.pid)

    m.kill(signal.SIGTERM)           # not SIGKILL: freeze, signal each, thaw
    assert p.wait(timeout=5) == -signal.SIGTERM
    assert not m.is_frozen()
    p2 = mk.spawn(m)
    m.kill(signal.SIGKILL)           # hybrid: cgroup.kill on the unified side
    assert p2.wait(timeout=5) == -signal.SIGKILL
    m.destroy()
    assert not any(os.path.exists(x) for x in m.dirs())


def test_sigkill_reaches_a_paused_container(mk):
    m = mk()
    m.create()
    p = mk.spawn(m, BUSY)
    m.freeze()
    m.kill(signal.SIGKILL)
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert not m.is_frozen()


def test_other_signals_leave_a_paused_container_paused(mk):
    m = mk()
    m.create()
    p = mk.spawn(m, ["sh", "-c", "trap 'exit 7' USR1; while :; do :; done"])
    time.sleep(0.2)
    m.freeze()
    m.kill(signal.SIGUSR1)
    time.sleep(0.3)
    assert p.poll() is None and m.is_frozen()
    m.thaw()
    assert p.wait(timeout=5) == 7


def test_cgroup_kill_catches_forks(mk):
    m = mk({"pids": {"limit": 200}})
    m.create()
    p = mk.spawn(m, ["sh", "-c", "for i in 1 2 3 4 5; do sleep 60 & done; wait"])
    deadline = time.monotonic() + 5
    while len(m.pids()) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(m.pids()) == 6
    m.kill(signal.SIGKILL)
    p.wait(timeout=5)
    deadline = time.monotonic() + 5
    while m.pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert m.pids() == []
    m.destroy()


def test_failed_create_removes_what_it_made(mk):
    cid = "pyoci-test-" + uuid.uuid4().hex[:10]
    m = mk({"cpu": {"cpus": "999"}}, path=f"/{cid}/a/b")
    with pytest.raises(PyociError, match=r"linux.resources.cpu.cpus: writing '999' to .*cpuset.cpus"):
        m.create()
    assert not any(os.path.exists(f"/sys/fs/cgroup/{h}/{cid}") for h in os.listdir("/sys/fs/cgroup"))


def test_config_error_touches_nothing(mk):
    m = mk({"network": {"classID": 1}})       # no net_cls hierarchy on this host
    if "net_cls" in m.v1_controllers():
        pytest.skip("this host has net_cls")
    with pytest.raises(ConfigError, match="net_cls cgroup controller is not available"):
        m.create()
    assert not any(os.path.exists(x) for x in m.dirs())


def test_existing_cgroup_empty_is_reused_busy_is_refused(mk):
    a = mk()
    a.create()
    b = cgroups.reopen(a.describe())
    b.create()                                  # empty: reused (runc)
    p = mk.spawn(a)
    c = cgroups.reopen(a.describe())
    with pytest.raises(PyociError, match=r"container's cgroup is not empty: 1 process\(es\) found"):
        c.create()
    p.kill()
    p.wait()


def test_relative_path_lands_under_our_own_cgroups(mk):
    m = mk(path="")          # absent cgroupsPath: "<id>" relative to our cgroup in each hierarchy
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, c, path = line.strip().split(":", 2)
            own[c] = path
    d = m.describe()
    assert d["v1"]["memory"] == os.path.normpath(f"/sys/fs/cgroup/memory{own['memory']}/{d['id']}")
    m.create()
    p = mk.spawn(m)
    time.sleep(0.1)
    assert m.pids() == [p.pid]


def test_systemd_path_is_mapped_onto_cgroupfs(mk):
    u = uuid.uuid4().hex[:8]
    m = mk(path=f"pyoci{u}.slice:pfx:{u}", systemd=True)
    assert m.describe()["path"] == f"/pyoci{u}.slice/pfx-{u}.scope"
    m.create()
    assert os.path.isdir(f"/sys/fs/cgroup/memory/pyoci{u}.slice/pfx-{u}.scope")
    m.destroy()
    for h in os.listdir("/sys/fs/cgroup"):      # the slice is a parent: destroy leaves it, we do not
        if os.path.isdir(f"/sys/fs/cgroup/{h}/pyoci{u}.slice"):
            os.rmdir(f"/sys/fs/cgroup/{h}/pyoci{u}.slice")


def try_open(path: str, flags: int) -> str:
    try:
        os.close(os.open(path, flags))
        return "ok"
    except OSError as e:
        return e.strerror


def opens_in(m, paths: list[tuple[str, int]]) -> list[str]:
    code = "import os,sys\n" + "".join(
        f"try:\n os.close(os.open({p!r}, {fl}))\n print('ok')\nexcept OSError as e:\n print(e.strerror)\n"
        for p, fl in paths)
    p = subprocess.run([sys.executable, "-c", code], preexec_fn=lambda: m.add(os.getpid()),
                       capture_output=True, text=True, timeout=30)
    return p.stdout.split("\n")[:len(paths)]


def test_v1_device_list_denies_what_is_not_allowed(mk):
    m = mk({"devices": [{"allow": False, "access": "rwm"},
                        {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}]})
    m.create()
    assert opens_in(m, [("/dev/null", os.O_RDWR), ("/dev/kmsg", os.O_RDONLY), ("/dev/kmsg", os.O_WRONLY),
                        ("/dev/tty0", os.O_RDONLY)]) == ["ok", "ok", "Operation not permitted",
                                                         "Operation not permitted"]


needs_unified = pytest.mark.skipif(not HAS_UNIFIED, reason="no cgroup2 mount at /sys/fs/cgroup/unified")


@needs_unified
def test_bpf_program_denies_dev_null_to_a_child():
    cg = f"{UNIFIED}/pyoci-test-{uuid.uuid4().hex[:10]}"
    os.mkdir(cg)
    try:
        emu = devices.Emulator()                      # deny all, then allow only /dev/zero
        emu.apply({"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rw"})
        prog_id = bpf.attach_device_program(cg, devices.program(emu))
        fd = os.open(cg, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert bpf.attached_ids(fd) == [prog_id]
            # replacing: a new program detaches the old one
            prog2 = bpf.attach_device_program(cg, devices.program(emu))
            assert bpf.attached_ids(fd) == [prog2] and prog2 != prog_id
        finally:
            os.close(fd)
        m = cgroups.reopen({"mode": "v2", "unified": cg, "v1": {}})
        assert opens_in(m, [("/dev/null", os.O_RDONLY), ("/dev/zero", os.O_RDONLY), ("/dev/zero", os.O_RDWR)]) == \
            ["Operation not permitted", "ok", "ok"]
        assert try_open("/dev/null", os.O_RDONLY) == "ok"       # we, outside, are not affected
    finally:
        os.rmdir(cg)


@needs_unified
def test_v2_manager_on_the_unified_mount(mk):
    """The pure-v2 code paths, rooted at this host's cgroup2 mount: eBPF devices (runc's default
    list), cgroup.freeze, cgroup.kill, cgroup.events, rmdir."""
    m = mk(root=UNIFIED)
    d = m.describe()
    assert d["mode"] == "v2" and d["v1"] == {} and d["freeze"].endswith("cgroup.freeze")
    m.create()
    assert len(bpf.attached_ids(os.open(d["unified"], os.O_RDONLY | os.O_DIRECTORY))) == 1
    assert opens_in(m, [("/dev/null", os.O_RDWR), ("/dev/kmsg", os.O_RDONLY)]) == ["ok", "Operation not permitted"]
    p = mk.spawn(m, BUSY)
    time.sleep(0.2)
    assert m.pids() == [p.pid]
    m.freeze()
    assert "frozen 1" in read(d["unified"] + "/cgroup.events").splitlines()
    assert cgroups.is_frozen(d) and not progresses(p.pid)
    m.thaw()
    assert progresses(p.pid)
    m.kill(signal.SIGKILL)
    assert p.wait(timeout=5) == -signal.SIGKILL
    m.destroy()
    assert not os.path.exists(d["unified"])


@pytest.mark.parametrize("side", ["v1", "v2"])
def test_hugetlb_limit_on_whichever_side_holds_it(mk, side):
    if side == "v1" and not os.path.isdir("/sys/fs/cgroup/hugetlb"):
        pytest.skip("hugetlb is not mounted as a v1 hierarchy here")
    if side == "v2" and (not HAS_UNIFIED or "hugetlb" not in uctl()):
        pytest.skip("hugetlb is not on the cgroup2 side here")
    sizes = [n.split("-")[1] for n in os.listdir("/sys/kernel/mm/hugepages")]
    size = "2MB" if "2048kB" in sizes else None
    if size is None:
        pytest.skip("no 2MB huge pages")
    m = mk({"hugepageLimits": [{"pageSize": size, "limit": 4 * 2097152}]})
    m.create()
    if side == "v1":
        assert read(m.v1_controllers()["hugetlb"] + f"/hugetlb.{size}.limit_in_bytes") == str(4 * 2097152)
        assert read(m.v1_controllers()["hugetlb"] + f"/hugetlb.{size}.rsvd.limit_in_bytes") == str(4 * 2097152)
    else:
        assert read(m.describe()["unified"] + f"/hugetlb.{size}.max") == str(4 * 2097152)


def test_oom_watch_and_stats(mk):
    m = mk({"memory": {"limit": 33554432, "swap": 33554432}})
    m.create()
    w = stats.OomWatch(m)
    try:
        import select

        poller = select.poll()
        poller.register(w.fd, w.events())
        p = mk.spawn(m, [sys.executable, "-c", "x = bytearray(200 * 1024 * 1024)"])
        assert p.wait(timeout=30) == -signal.SIGKILL
        assert poller.poll(5000), "no OOM notification"
        assert w.check() >= 1
        s = m.stats()
        assert s["memory"]["usage"]["limit"] == 33554432 and s["memory"]["usage"]["max"] >= 30000000
        assert set(s) == {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"}
        assert s["cpu"]["usage"]["total"] > 0
        m.destroy()
        assert w.check() == -1             # the cgroup is gone: `events` ends
    finally:
        w.close()
