"""pyoci update on a running container: runc's flags, `-r FILE`, `-r -`, the files they change,
the limits holding afterwards, and the errors."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.conftest import wait_for


def start(runtime, bundle, args, resources=None):
    def edit(cfg):
        cfg["linux"]["resources"] = {**cfg["linux"].get("resources", {}), **(resources or {})}
    cid = runtime.new_id()
    runtime("create", "-b", str(bundle(args, edit=edit)), cid, check=True)
    runtime("start", cid, check=True)
    return cid


def cg(runtime, cid) -> dict:
    with open(runtime.root / cid / "state.json") as f:
        return json.load(f)["cgroup"]


def ctl(runtime, cid, c: str) -> str:
    d = cg(runtime, cid)
    for name, opts in d["v1opts"].items():
        if c in opts.split(","):
            return d["v1"][name]
    return d["unified"]


def read(d: str, f: str) -> str:
    with open(os.path.join(d, f)) as fh:
        return fh.read().strip()


def test_flags_change_the_files(runtime, bundle):
    cid = start(runtime, bundle, ["sleep", "100"], {"memory": {"limit": 67108864}, "pids": {"limit": 50}})
    p = runtime("update", "--memory", "100m", "--memory-swap", "200m", "--memory-reservation", "50m",
                "--cpu-quota", "30000", "--cpu-period", "60000", "--cpu-share", "256", "--cpuset-cpus", "0",
                "--pids-limit", "30", "--blkio-weight", "200", cid)
    assert p.returncode == 0, p.stderr
    mem, cpu = ctl(runtime, cid, "memory"), ctl(runtime, cid, "cpu")
    assert read(mem, "memory.limit_in_bytes") == str(100 << 20)
    assert read(mem, "memory.memsw.limit_in_bytes") == str(200 << 20)
    assert read(mem, "memory.soft_limit_in_bytes") == str(50 << 20)
    assert (read(cpu, "cpu.cfs_quota_us"), read(cpu, "cpu.cfs_period_us"), read(cpu, "cpu.shares")) == \
        ("30000", "60000", "256")
    assert read(ctl(runtime, cid, "cpuset"), "cpuset.cpus") == "0"
    assert read(ctl(runtime, cid, "pids"), "pids.max") == "30"
    blk = ctl(runtime, cid, "blkio")
    if os.path.exists(os.path.join(blk, "blkio.bfq.weight")):
        assert read(blk, "blkio.bfq.weight").split()[-1] == "200"
    # kept for the next update (state.json), devices excluded
    assert cg(runtime, cid)["resources"]["cpu"]["quota"] == 30000
    # lowering memory below memory+swap ordering works both ways (memsw first or last)
    runtime("update", "--memory", "32m", "--memory-swap", "40m", cid, check=True)
    assert (read(mem, "memory.limit_in_bytes"), read(mem, "memory.memsw.limit_in_bytes")) == \
        (str(32 << 20), str(40 << 20))
    runtime("update", "--memory", "-1", cid, check=True)           # unlimited, and swap too
    assert int(read(mem, "memory.limit_in_bytes")) > 1 << 60
    assert int(read(mem, "memory.memsw.limit_in_bytes")) > 1 << 60


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_resources_json(runtime, bundle, tmp_path, via):
    cid = start(runtime, bundle, ["sleep", "100"])
    r = {"memory": {"limit": 83886080}, "cpu": {"quota": 25000, "period": 100000}, "pids": {"limit": 7}}
    if via == "file":
        f = tmp_path / "r.json"
        f.write_text(json.dumps(r))
        p = runtime("update", "-r", str(f), "--pids-limit", "99", cid)     # -r wins over flags (runc)
    else:
        p = runtime("update", "--resources", "-", cid, input=json.dumps(r).encode())
    assert p.returncode == 0, p.stderr
    assert read(ctl(runtime, cid, "memory"), "memory.limit_in_bytes") == "83886080"
    assert read(ctl(runtime, cid, "cpu"), "cpu.cfs_quota_us") == "25000"
    assert read(ctl(runtime, cid, "pids"), "pids.max") == "7"


def test_new_pids_limit_holds(runtime, bundle):
    import subprocess

    from ociruntime import cgroups

    cid = start(runtime, bundle, ["sh", "-c", "sleep 100 & sleep 100 & wait"])
    wait_for(lambda: len(json.loads(runtime("ps", "-f", "json", cid).stdout)) == 3)
    runtime("update", "--pids-limit", "3", cid, check=True)
    mgr = cgroups.reopen(cg(runtime, cid))
    # A process joined to the container's cgroups (joining ignores pids.max, forking does not).
    probe = "import os\ntry:\n os.waitpid(os.fork() or os._exit(0), 0); print('forked')\nexcept OSError as e: print(e.errno)"

    def fork_in_container() -> str:
        p = subprocess.run([sys.executable, "-c", probe], preexec_fn=lambda: mgr.add(os.getpid()),
                           capture_output=True, text=True, timeout=30)
        return p.stdout.strip()

    assert fork_in_container() == "11"              # EAGAIN: 3 processes are the limit
    runtime("update", "--pids-limit", "10", cid, check=True)
    assert fork_in_container() == "forked"


def test_errors(runtime, bundle, tmp_path):
    cid = start(runtime, bundle, ["sleep", "100"])
    p = runtime("update", "--memory", "lots", cid)
    assert p.returncode == 1 and p.stderr.strip() == b"invalid value for memory: invalid size: 'lots'"
    p = runtime("update", "--cpu-share", "-5", cid)
    assert p.returncode == 1 and b"invalid value for cpu-share" in p.stderr
    p = runtime("update", "--memory", "10m", "--memory-swap", "5m", cid)
    assert p.returncode == 1 and b"memory.memsw.limit_in_bytes" in p.stderr
    f = tmp_path / "bad.json"
    f.write_text("{nope")
    p = runtime("update", "-r", str(f), cid)
    assert p.returncode == 1 and b"invalid resources JSON" in p.stderr
    p = runtime("update", "-r", str(tmp_path / "missing.json"), cid)
    assert p.returncode == 1 and b"no such file" in p.stderr
    runtime("kill", cid, "KILL", check=True)
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")
    p = runtime("update", "--pids-limit", "5", cid)
    assert p.returncode == 1 and p.stderr.strip() == b"container not running"
    p = runtime("update", "--pids-limit", "5", "nope")
    assert p.returncode == 1 and p.stderr.strip() == b"container does not exist"
