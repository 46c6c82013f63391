"""pyoci pause / resume on real containers: the processes stop and go, `state` says paused,
and runc's errors for the wrong states."""

from __future__ import annotations

import json
import time

from tests.conftest import wait_for

BUSY = ["sh", "-c", "while :; do :; done"]


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def runs(pid: int, dt: float = 0.4) -> bool:
    a = ticks(pid)
    time.sleep(dt)
    return ticks(pid) > a


def start(runtime, bundle, args):
    cid = runtime.new_id()
    runtime("create", "-b", str(bundle(args)), cid, check=True)
    runtime("start", cid, check=True)
    return cid, runtime.state(cid)["pid"]


def test_pause_resume_running_container(runtime, bundle):
    cid, pid = start(runtime, bundle, BUSY)
    assert runs(pid)
    assert runtime("pause", cid).returncode == 0
    assert runtime.state(cid)["status"] == "paused"
    assert not runs(pid)
    # a paused container's processes are still listed (and still ours)
    assert pid in json.loads(runtime("ps", "--format", "json", cid, check=True).stdout)
    assert runtime("resume", cid).returncode == 0
    assert runtime.state(cid)["status"] == "running"
    assert runs(pid)


def test_wrong_states(runtime, bundle):
    cid, pid = start(runtime, bundle, ["sleep", "100"])
    p = runtime("resume", cid)
    assert p.returncode == 1 and p.stderr.strip() == b"container not paused"
    runtime("pause", cid, check=True)
    p = runtime("pause", cid)
    assert p.returncode == 1 and p.stderr.strip() == b"container not running"
    runtime("resume", cid, check=True)
    runtime("kill", cid, "KILL", check=True)
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")
    for cmd in ("pause", "resume"):
        p = runtime(cmd, cid)
        assert p.returncode == 1 and p.stderr.strip() in (b"container not running", b"container not paused")
    p = runtime("pause", "no-such-container")
    assert p.returncode == 1 and p.stderr.strip() == b"container does not exist"


def test_pause_a_created_container_then_start_it(runtime, bundle):
    # runc lets a created container be paused; its init (blocked on the exec fifo) is frozen.
    cid = runtime.new_id()
    runtime("create", "-b", str(bundle(BUSY)), cid, check=True)
    assert runtime("pause", cid).returncode == 0
    assert runtime("resume", cid).returncode == 0
    runtime("start", cid, check=True)
    assert runtime.state(cid)["status"] == "running"


def test_delete_force_a_paused_container(runtime, bundle):
    cid, pid = start(runtime, bundle, BUSY)
    runtime("pause", cid, check=True)
    assert runtime("delete", "--force", cid).returncode == 0
    assert runtime("state", cid).returncode == 1
    # the cleanup audit of the runtime fixture checks that no cgroup is left
