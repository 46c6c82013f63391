"""pyoci ps: `--format json` (containerd's `ctr task ps`) and the ps(1) table with options."""

from __future__ import annotations

import json

from tests.conftest import wait_for


def start(runtime, bundle, args):
    cid = runtime.new_id()
    runtime("create", "-b", str(bundle(args)), cid, check=True)
    runtime("start", cid, check=True)
    return cid, runtime.state(cid)["pid"]


def pids(runtime, cid) -> list[int]:
    return json.loads(runtime("ps", "--format", "json", cid, check=True).stdout)


def test_json_lists_host_pids(runtime, bundle):
    cid, init = start(runtime, bundle, ["sh", "-c", "sleep 100 & sleep 101 & wait"])
    wait_for(lambda: len(pids(runtime, cid)) == 3)
    got = pids(runtime, cid)
    assert init in got
    comms = sorted(open(f"/proc/{p}/cmdline").read().replace("\0", " ").strip() for p in got)
    assert comms == ["sh -c sleep 100 & sleep 101 & wait", "sleep 100", "sleep 101"]
    out = runtime("ps", "-f", "json", cid, check=True).stdout
    assert out.endswith(b"]\n") and out.startswith(b"[")


def test_table_default_and_with_ps_options(runtime, bundle):
    cid, init = start(runtime, bundle, ["sleep", "100"])
    out = runtime("ps", cid, check=True).stdout.decode().splitlines()
    assert out[0].split()[:2] == ["UID", "PID"]                       # ps -ef
    assert len(out) == 2 and out[1].split()[1] == str(init)
    out = runtime("ps", cid, "-o", "pid,comm", check=True).stdout.decode().splitlines()
    assert len(out) == 2 and out[0].split() == ["PID", "COMMAND"] and out[1].split() == [str(init), "sleep"]
    out = runtime("ps", cid, "--", "-o", "pid,args", check=True).stdout.decode().splitlines()
    assert out[1].split() == [str(init), "sleep", "100"]


def test_errors(runtime, bundle):
    cid, _ = start(runtime, bundle, ["sleep", "100"])
    p = runtime("ps", "--format", "yaml", cid)
    assert p.returncode == 1 and b"invalid format option" in p.stderr
    p = runtime("ps", cid, "-o", "comm")                               # no PID column to match on
    assert p.returncode == 1 and b"couldn't find PID field in ps output" in p.stderr
    p = runtime("ps", "nope")
    assert p.returncode == 1 and p.stderr.strip() == b"container does not exist"


def test_stopped_container_has_no_processes(runtime, bundle):
    cid, _ = start(runtime, bundle, ["true"])
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")
    assert pids(runtime, cid) == []
