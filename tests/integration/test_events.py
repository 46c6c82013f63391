"""pyoci events: `--stats` once in runc's JSON shape, `--interval` streaming, and the OOM
notification when a memory limit kills a hog (a seed scenario)."""

from __future__ import annotations

import json
import subprocess
import time

from tests.conftest import wait_for


def create(runtime, bundle, args, resources=None):
    def edit(cfg):
        cfg["linux"]["resources"] = {**cfg["linux"].get("resources", {}), **(resources or {})}
    cid = runtime.new_id()
    runtime("create", "-b", str(bundle(args, edit=edit)), cid, check=True)
    return cid


def stream(runtime, *args) -> subprocess.Popen:
    return subprocess.Popen([runtime.binary, "--root", str(runtime.root), "events", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_stats_once(runtime, bundle):
    cid = create(runtime, bundle, ["sleep", "100"], {"memory": {"limit": 50331648}, "pids": {"limit": 20}})
    runtime("start", cid, check=True)
    p = runtime("events", "--stats", cid, check=True)
    ev = json.loads(p.stdout)
    assert p.stdout.count(b"\n") == 1
    assert ev["type"] == "stats" and ev["id"] == cid
    d = ev["data"]
    assert set(d) == {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"}
    assert d["pids"] == {"current": 1, "limit": 20}
    assert d["memory"]["usage"]["limit"] == 50331648 and d["memory"]["usage"]["usage"] > 0
    assert "failcnt" in d["memory"]["usage"] and isinstance(d["memory"]["raw"], dict)
    assert d["cpu"]["usage"]["total"] > 0 and "kernel" in d["cpu"]["usage"] and "user" in d["cpu"]["usage"]
    assert d["cpuset"]["cpus"] and d["cpuset"]["mems"] == [0]


def test_interval_streams_until_the_container_is_deleted(runtime, bundle):
    cid = create(runtime, bundle, ["sleep", "100"])
    runtime("start", cid, check=True)
    ev = stream(runtime, "--interval", "200ms", cid)
    try:
        lines = [ev.stdout.readline() for _ in range(3)]
        assert all(json.loads(x)["type"] == "stats" for x in lines)
        runtime("delete", "--force", cid, check=True)
        assert ev.wait(timeout=10) == 0          # the cgroup is gone: events ends
    finally:
        if ev.poll() is None:
            ev.kill()
            ev.wait()


def test_memory_limit_oom_kills_a_hog_and_events_reports_it(runtime, bundle):
    hog = ["sh", "-c", "sleep 1; dd if=/dev/zero of=/dev/null bs=128M count=1; echo dd=$?; sleep 100"]
    cid = create(runtime, bundle, hog, {"memory": {"limit": 33554432, "swap": 33554432}})
    ev = stream(runtime, "--interval", "10s", cid)
    try:
        time.sleep(0.5)                            # events is watching before the hog starts
        runtime("start", cid, check=True)
        line = ev.stdout.readline()
        assert json.loads(line) == {"type": "oom", "id": cid}
    finally:
        ev.kill()
        ev.wait()
    # the hog died, the container (its shell) lives on
    assert runtime.state(cid)["status"] == "running"
    stats = json.loads(runtime("events", "--stats", cid, check=True).stdout)["data"]
    assert stats["memory"]["usage"]["max"] >= 30 << 20


def test_errors(runtime, bundle):
    p = runtime("events", "--stats", "nope")
    assert p.returncode == 1 and p.stderr.strip() == b"container does not exist"
    cid = create(runtime, bundle, ["true"])
    runtime("start", cid, check=True)
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")
    p = runtime("events", "--stats", cid)
    assert p.returncode == 1 and p.stderr.strip() == f"container with id {cid} is not running".encode()
    cid = create(runtime, bundle, ["sleep", "10"])
    p = runtime("events", "--interval", "0s", cid)
    assert p.returncode == 1 and b"duration interval must be greater than 0" in p.stderr
    p = runtime("events", "--interval", "soon", cid)
    assert p.returncode == 1 and b"soon" in p.stderr
