"""Hooks, all six (config.md "POSIX-platform Hooks", runtime.md "Lifecycle" of v1.3.0)."""

from __future__ import annotations

import json
import os
import time

from tests.conftest import wait_for

HOOK = """#!/bin/sh
# $1: name of the hook; records what it saw.
state=$(cat)
echo "$1|$(readlink /proc/self/ns/mnt)|$FOO|$state" >> "$LOG"
exit ${EXIT:-0}
"""


def _setup(runtime, bundle, args=("sleep", "300"), fail: str | None = None, extra=None):
    log = runtime.tmp / "hooks.log"
    script = runtime.tmp / "hook.sh"
    script.write_text(HOOK)
    script.chmod(0o755)

    def hook(name: str, in_container: bool = False) -> dict:
        env = [f"LOG={'/hooklog/hooks.log' if in_container else log}", "FOO=bar",
               f"EXIT={1 if name == fail else 0}", "PATH=/bin:/usr/bin"]
        return {"path": "/hook.sh" if in_container else str(script), "args": ["hook.sh", name], "env": env}

    def edit(c):
        c["hooks"] = {k: [hook(k, in_container=(k == "startContainer"))] for k in
                      ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")}
        c["mounts"].append({"destination": "/hooklog", "type": "bind", "source": str(runtime.tmp),
                            "options": ["rbind", "rw"]})
        if extra:
            extra(c)
    b = bundle(list(args), edit=edit)
    # startContainer runs inside the container after pivot_root: its path is the container's.
    (b / "rootfs" / "hook.sh").write_text(HOOK.replace("#!/bin/sh", "#!/bin/sh"))
    (b / "rootfs" / "hook.sh").chmod(0o755)
    return b, log


def _entries(log):
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        name, mnt, foo, state = line.split("|", 3)
        out.append((name, mnt, foo, json.loads(state)))
    return out


def test_all_six_in_order_with_state_and_namespaces(runtime, bundle):
    b, log = _setup(runtime, bundle)
    cid = runtime.new_id()
    host_mnt = os.readlink("/proc/self/ns/mnt")
    runtime("create", "-b", str(b), cid, check=True)
    pid = runtime.state(cid)["pid"]
    names = [e[0] for e in _entries(log)]
    assert names == ["prestart", "createRuntime", "createContainer"]
    runtime("start", cid, check=True)
    wait_for(lambda: len(_entries(log)) == 5)
    runtime("kill", cid, "KILL", check=True)
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")
    runtime("delete", cid, check=True)
    entries = {e[0]: e for e in _entries(log)}
    assert list(entries) == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                             "poststop"] or set(entries) == {"prestart", "createRuntime", "createContainer",
                                                             "startContainer", "poststart", "poststop"}
    ctr_mnt = entries["startContainer"][1]
    for name in ("prestart", "createRuntime", "poststart", "poststop"):
        assert entries[name][1] == host_mnt, name            # runtime namespace
    assert entries["createContainer"][1] != host_mnt        # container namespace
    assert entries["startContainer"][1] == ctr_mnt != host_mnt
    for name, e in entries.items():
        state = e[3]
        assert e[2] == "bar", name                           # env passed
        assert state["id"] == cid and state["bundle"] == str(b), name
        assert state["ociVersion"] == "1.3.0"
    assert entries["createRuntime"][3]["status"] == "creating"
    assert entries["createRuntime"][3]["pid"] == pid
    assert entries["createContainer"][3]["pid"] == pid
    assert entries["poststart"][3]["status"] == "running"
    assert entries["poststop"][3]["status"] == "stopped"


def test_failing_create_runtime_hook_fails_create_and_runs_poststop(runtime, bundle):
    b, log = _setup(runtime, bundle, fail="createRuntime")
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"createRuntime hook" in p.stderr
    assert runtime("state", cid).returncode == 1
    assert [e[0] for e in _entries(log)] == ["prestart", "createRuntime", "poststop"]


def test_failing_create_container_hook_fails_create(runtime, bundle):
    b, log = _setup(runtime, bundle, fail="createContainer")
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"createContainer hook" in p.stderr
    assert runtime("state", cid).returncode == 1
    assert [e[0] for e in _entries(log)][-1] == "poststop"


def test_failing_poststart_hook_fails_start_and_destroys(runtime, bundle):
    b, log = _setup(runtime, bundle, fail="poststart")
    cid = runtime.new_id()
    runtime("create", "-b", str(b), cid, check=True)
    pid = runtime.state(cid)["pid"]
    p = runtime("start", cid)
    assert p.returncode == 1 and b"poststart hook" in p.stderr
    assert runtime("state", cid).returncode == 1
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z")
    assert [e[0] for e in _entries(log)][-1] == "poststop"


def test_failing_poststop_hook_is_a_warning(runtime, bundle):
    b, log = _setup(runtime, bundle, args=("true",), fail="poststop")
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    assert b"warning" in p.stderr and b"poststop hook" in p.stderr
    assert runtime("state", cid).returncode == 1


def test_hook_timeout(runtime, bundle):
    def extra(c):
        c["hooks"]["createRuntime"] = [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]
    b, log = _setup(runtime, bundle, extra=extra)
    cid = runtime.new_id()
    t = time.monotonic()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"timed out" in p.stderr
    assert time.monotonic() - t < 15
    assert runtime("state", cid).returncode == 1


def test_missing_hook_binary(runtime, bundle):
    def extra(c):
        c["hooks"] = {"prestart": [{"path": "/nonexistent/hook"}]}
    b, _ = _setup(runtime, bundle, extra=extra)
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"/nonexistent/hook" in p.stderr


def test_failing_start_container_hook_fails_start_and_destroys(runtime, bundle):
    b, log = _setup(runtime, bundle, fail="startContainer")
    cid = runtime.new_id()
    runtime("create", "-b", str(b), cid, check=True)
    p = runtime("start", cid)
    assert p.returncode == 1 and b"startContainer hook" in p.stderr
    assert runtime("state", cid).returncode == 1
    names = [e[0] for e in _entries(log)]
    assert "poststart" not in names and names[-1] == "poststop"


def test_poststart_runs_after_start_container_hooks(runtime, bundle):
    b, log = _setup(runtime, bundle)
    cid = runtime.new_id()
    runtime("create", "-b", str(b), cid, check=True)
    runtime("start", cid, check=True)
    # start returned: startContainer has run, and poststart after it, synchronously
    names = [e[0] for e in _entries(log)]
    assert names[-2:] == ["startContainer", "poststart"]


def test_every_poststop_hook_runs_even_if_one_fails(runtime, bundle):
    def extra(c):
        c["hooks"]["poststop"] = [c["hooks"]["poststop"][0] | {"args": ["hook.sh", "poststop"],
                                                               "env": c["hooks"]["poststop"][0]["env"][:2] +
                                                               ["EXIT=1", "PATH=/bin:/usr/bin"]},
                                  c["hooks"]["poststop"][0] | {"args": ["hook.sh", "poststop2"]}]
    b, log = _setup(runtime, bundle, args=("true",), extra=extra)
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    names = [e[0] for e in _entries(log)]
    assert names[-2:] == ["poststop", "poststop2"]
