"""Cgroups of real containers through the pyoci CLI: the seed scenarios (a cpu quota holds a
busy loop, a pids limit stops a fork bomb), kill --all, cgroupsPath forms, cleanup on delete
and on a failed create, and the container's own view of /sys/fs/cgroup."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import wait_for

BUSY = ["sh", "-c", "while :; do :; done"]


def with_resources(resources: dict, path: str | None = None, namespaces: list | None = None):
    def edit(cfg: dict) -> None:
        cfg["linux"]["resources"] = {**cfg["linux"].get("resources", {}), **resources}
        if path is not None:
            cfg["linux"]["cgroupsPath"] = path
        if namespaces is not None:
            cfg["linux"]["namespaces"] += namespaces
    return edit


def started(runtime, bundle, args, resources=None, path=None, globals_=(), namespaces=None) -> tuple[str, int]:
    cid = runtime.new_id()
    b = bundle(args, edit=with_resources(resources or {}, path, namespaces))
    runtime("create", "--bundle", str(b), cid, globals_=globals_, check=True)
    runtime("start", cid, check=True)
    return cid, runtime.state(cid)["pid"]


def cgdesc(runtime, cid) -> dict:
    with open(runtime.root / cid / "state.json") as f:
        return json.load(f)["cgroup"]


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def usage_ns(runtime, cid) -> int:
    p = runtime("events", "--stats", cid, check=True)
    return json.loads(p.stdout)["data"]["cpu"]["usage"]["total"]


def test_cpu_quota_holds_a_busy_loop_to_20_percent(runtime, bundle):
    cid, _ = started(runtime, bundle, BUSY, {"cpu": {"quota": 20000, "period": 100000}})
    time.sleep(0.5)
    a, t0 = usage_ns(runtime, cid), time.monotonic()
    time.sleep(3)
    b, t1 = usage_ns(runtime, cid), time.monotonic()
    share = (b - a) / 1e9 / (t1 - t0)
    # Never above the quota; a little below it when other work competes for the CPUs.
    assert 0.12 <= share <= 0.25, f"busy loop got {share:.3f} of a CPU under a 20% quota"
    # and it is the quota doing it: lifted, the loop takes (nearly) a whole CPU
    runtime("update", "--cpu-quota", "-1", cid, check=True)
    a, t0 = usage_ns(runtime, cid), time.monotonic()
    time.sleep(1.5)
    b, t1 = usage_ns(runtime, cid), time.monotonic()
    free = (b - a) / 1e9 / (t1 - t0)
    assert free > 0.4, f"without a quota the loop got only {free:.3f} of a CPU"


def test_pids_limit_stops_a_fork_bomb(runtime, bundle):
    # The bomb runs in a subshell (a shell whose fork fails gives up); init then execs, needing no fork.
    bomb = ["sh", "-c", "(i=0; while [ $i -lt 200 ]; do sleep 60 & i=$((i+1)); done); exec sleep 60"]
    cid, _ = started(runtime, bundle, bomb, {"pids": {"limit": 12}})
    d = cgdesc(runtime, cid)
    pids_dir = d["v1"]["pids"] if "pids" in d["v1"] else d["unified"]
    wait_for(lambda: "max 0" not in read(pids_dir + "/pids.events"), timeout=15)
    time.sleep(0.5)
    assert int(read(pids_dir + "/pids.current")) <= 12
    assert int(read(pids_dir + "/pids.events").split()[1]) > 0          # refused forks counted
    stats = json.loads(runtime("events", "--stats", cid, check=True).stdout)["data"]
    assert stats["pids"] == {"current": int(read(pids_dir + "/pids.current")), "limit": 12}
    assert len(json.loads(runtime("ps", "--format", "json", cid, check=True).stdout)) <= 12


def test_kill_all_signals_every_process_in_the_cgroup(runtime, bundle):
    cid, pid = started(runtime, bundle, ["sh", "-c", "sleep 100 & sleep 100 & sleep 100 & wait"])
    wait_for(lambda: len(json.loads(runtime("ps", "--format", "json", cid).stdout)) == 4)
    assert runtime("kill", "--all", cid, "9").returncode == 0
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")
    assert json.loads(runtime("ps", "--format", "json", cid, check=True).stdout) == []
    # containerd sends it twice; a stopped container's empty cgroup is fine
    assert runtime("kill", "--all", cid, "9").returncode == 0
    assert runtime("delete", cid).returncode == 0


def test_kill_all_reaches_a_paused_container(runtime, bundle):
    cid, pid = started(runtime, bundle, ["sh", "-c", "sleep 100 & wait"])
    runtime("pause", cid, check=True)
    assert runtime("kill", "--all", cid, "KILL").returncode == 0
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")


def test_delete_removes_the_cgroups_of_a_paused_container(runtime, bundle):
    cid, _ = started(runtime, bundle, ["sleep", "100"])
    d = cgdesc(runtime, cid)
    dirs = list(d["v1"].values()) + ([d["unified"]] if d.get("unified") else [])
    assert all(os.path.isdir(x) for x in dirs)
    runtime("pause", cid, check=True)
    assert runtime("delete", "--force", cid).returncode == 0
    assert not any(os.path.exists(x) for x in dirs)


@pytest.mark.parametrize("form", ["absolute", "relative", "absent"])
def test_cgroups_path_forms(runtime, bundle, form):
    cid = runtime.new_id()
    path = {"absolute": f"/pyoci-tests/{cid}", "relative": f"nested/{cid}", "absent": None}[form]
    b = bundle(["sleep", "100"], edit=with_resources({"memory": {"limit": 50331648}}, path))
    runtime("create", "-b", str(b), cid, check=True)
    d = cgdesc(runtime, cid)
    own = {}
    with open("/proc/self/cgroup") as f:   # the runtime runs in our cgroups
        for line in f:
            _, c, p = line.strip().split(":", 2)
            own[c] = p
    mem = d["v1"]["memory"]
    want = {"absolute": f"/sys/fs/cgroup/memory/pyoci-tests/{cid}",
            "relative": os.path.normpath(f"/sys/fs/cgroup/memory{own['memory']}/nested/{cid}"),
            "absent": os.path.normpath(f"/sys/fs/cgroup/memory{own['memory']}/{cid}")}[form]
    assert mem == want
    assert read(mem + "/memory.limit_in_bytes") == "50331648"
    pid = runtime.state(cid)["pid"]
    assert str(pid) in read(mem + "/cgroup.procs").split()
    runtime("delete", "--force", cid, check=True)
    assert not os.path.exists(mem)
    parent = os.path.dirname(mem)
    if form != "absent" and os.path.isdir(parent):
        for h in os.listdir("/sys/fs/cgroup"):   # our parents; delete keeps shared parents by design
            for p in (f"/sys/fs/cgroup/{h}/pyoci-tests", f"/sys/fs/cgroup/{h}{own.get(h, '')}/nested"):
                try:
                    os.rmdir(p)
                except OSError:
                    pass


def test_systemd_cgroup_path_maps_onto_cgroupfs(runtime, bundle):
    cid = runtime.new_id()
    b = bundle(["sleep", "100"], edit=with_resources({}, f"pyoci.slice:test:{cid}"))
    runtime("create", "-b", str(b), cid, globals_=("--systemd-cgroup",), check=True)
    assert cgdesc(runtime, cid)["v1"]["memory"] == f"/sys/fs/cgroup/memory/pyoci.slice/test-{cid}.scope"
    runtime("delete", "--force", cid, check=True)
    bad = bundle(["true"], edit=with_resources({}, "/not/a/slice"))
    p = runtime("create", "-b", str(bad), runtime.new_id(), globals_=("--systemd-cgroup",))
    assert p.returncode == 1 and b'"slice:prefix:name"' in p.stderr
    for h in os.listdir("/sys/fs/cgroup"):
        try:
            os.rmdir(f"/sys/fs/cgroup/{h}/pyoci.slice")
        except OSError:
            pass


def test_failed_create_leaves_no_cgroup(runtime, bundle):
    cid = runtime.new_id()
    b = bundle(["true"], edit=with_resources({"cpu": {"cpus": "999"}}))
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1
    assert b"linux.resources.cpu.cpus" in p.stderr and b"cpuset.cpus" in p.stderr
    assert runtime("state", cid).returncode == 1
    # the runtime fixture's audit also walks /sys/fs/cgroup for a cgroup named after cid


def test_config_error_in_resources_is_one_line(runtime, bundle):
    cid = runtime.new_id()
    b = bundle(["true"], edit=with_resources({"memory": {"swappiness": 200}}))
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1
    assert p.stderr.decode().strip() == "linux.resources.memory.swappiness: invalid value 200 (valid range is 0-100)"


@pytest.mark.parametrize("cgroupns", [False, True])
def test_container_sees_its_own_cgroup(runtime, bundle, cgroupns):
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/fs/cgroup; "
              "grep -c . /sys/fs/cgroup/memory/cgroup.procs; cat /proc/self/cgroup | grep memory")
    cid = runtime.new_id()
    b = bundle(["sh", "-c", script],
               edit=with_resources({"memory": {"limit": 41943040}}, None,
                                   [{"type": "cgroup"}] if cgroupns else None))
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode().split("\n")
    assert out[0] == "41943040"
    names = set(out[1:-3])
    assert {"memory", "pids", "freezer", "devices", "cpu", "systemd"} <= names
    if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"):
        assert "unified" in names
    assert out[-3] == "2"                                    # the shell and grep: nothing of the host
    assert out[-2].endswith(":memory:/") == cgroupns         # the cgroup namespace hides the path


def test_cgroup_of_a_running_container_is_not_taken_over(runtime, bundle):
    first = runtime.new_id()
    path = f"/pyoci-shared-{first}"
    runtime("create", "-b", str(bundle(["sleep", "100"], edit=with_resources({}, path))), first, check=True)
    runtime("start", first, check=True)
    second = runtime.new_id()
    p = runtime("create", "-b", str(bundle(["sleep", "100"], edit=with_resources({"pids": {"limit": 5}}, path))),
                second)
    assert p.returncode == 1 and b"container's cgroup is not empty: 1 process(es) found" in p.stderr
    # the failed create's cleanup killed nothing and removed nothing of the first container
    assert runtime.state(first)["status"] == "running"
    d = cgdesc(runtime, first)
    assert all(os.path.isdir(x) for x in d["v1"].values())
    assert read(d["v1"]["pids"] + "/pids.max") == "max"
    runtime("delete", "--force", first, check=True)
    assert not any(os.path.exists(x) for x in d["v1"].values())
