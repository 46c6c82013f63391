"""runtime.md "Lifecycle" and "Operations" on real busybox containers."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.conftest import wait_for


def _status(runtime, cid):
    return runtime.state(cid)["status"]


def test_create_start_state_kill_delete(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    pid_file = runtime.tmp / "init.pid"
    p = runtime("create", "--bundle", str(b), "--pid-file", str(pid_file), cid)
    assert p.returncode == 0, p.stderr
    st = runtime.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["bundle"] == str(b) and st["ociVersion"] == "1.3.0"
    # runc writes the pid file without a newline, before create returns.
    assert pid_file.read_text() == str(st["pid"])
    # init is blocked: not yet the user's program.
    with open(f"/proc/{st['pid']}/comm") as f:
        assert f.read().strip() != "sleep"
    assert runtime("start", cid).returncode == 0
    wait_for(lambda: open(f"/proc/{st['pid']}/comm").read().strip() == "sleep")
    assert _status(runtime, cid) == "running"
    assert runtime("kill", cid, "KILL").returncode == 0
    wait_for(lambda: _status(runtime, cid) == "stopped")
    assert runtime.state(cid)["pid"] == 0
    assert runtime("delete", cid).returncode == 0
    p = runtime("state", cid)
    assert p.returncode == 1 and b"container does not exist" in p.stderr


def test_state_validates_against_schema(runtime, bundle):
    from ociruntime.config.schema import validate

    cid = runtime.new_id()
    b = bundle(["sleep", "300"], edit=lambda c: c.update(annotations={"org.example/key": "v"}))
    runtime("create", "-b", str(b), cid, check=True)
    st = runtime.state(cid)
    validate(st, "state-schema.json", "state")
    assert st["annotations"] == {"org.example/key": "v"}
    assert st["rootfs"] == str(b / "rootfs")
    assert st["created"].endswith("Z")


def test_run_foreground_exit_code_and_output(runtime, bundle):
    b = bundle(["sh", "-c", "echo hello; echo err >&2; exit 42"])
    cid = runtime.new_id()
    p = runtime("run", "--bundle", str(b), cid)
    assert p.returncode == 42
    assert p.stdout == b"hello\n" and p.stderr == b"err\n"
    # deleted afterwards
    assert runtime("state", cid).returncode == 1


def test_run_keep_leaves_stopped_container(runtime, bundle):
    b = bundle(["true"])
    cid = runtime.new_id()
    assert runtime("run", "--keep", "-b", str(b), cid).returncode == 0
    assert _status(runtime, cid) == "stopped"
    assert runtime("delete", cid).returncode == 0


def test_run_killed_by_signal_exits_128_plus_n(runtime, bundle):
    import subprocess

    # The pid namespace's init ignores signals it has no handler for, unless they come from
    # outside as SIGKILL: that is the one way to kill it by signal.
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    proc = subprocess.Popen([runtime.binary, "--root", str(runtime.root), "run", "-b", str(b), cid],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: runtime("state", cid).returncode == 0 and _status(runtime, cid) == "running")
        runtime("kill", cid, "KILL", check=True)
        assert proc.wait(timeout=20) == 128 + signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_forwards_signals(runtime, bundle):
    import subprocess

    b = bundle(["sh", "-c", "trap 'echo got-term; exit 7' TERM; while true; do sleep 0.1; done"])
    cid = runtime.new_id()
    proc = subprocess.Popen([runtime.binary, "--root", str(runtime.root), "run", "-b", str(b), cid],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: runtime("state", cid).returncode == 0 and _status(runtime, cid) == "running")
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 7, err
    assert b"got-term" in out


def test_run_detach_returns_once_running(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    p = runtime("run", "-d", "--pid-file", str(runtime.tmp / "p"), "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    assert _status(runtime, cid) == "running"
    assert int((runtime.tmp / "p").read_text()) == runtime.state(cid)["pid"]
    assert runtime("delete", "--force", cid).returncode == 0
    assert runtime("state", cid).returncode == 1


def test_start_twice_fails_and_changes_nothing(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("create", "-b", str(b), cid, check=True)
    runtime("start", cid, check=True)
    p = runtime("start", cid)
    assert p.returncode != 0 and b"running" in p.stderr
    assert _status(runtime, cid) == "running"


def test_start_of_stopped_container_fails(runtime, bundle):
    b = bundle(["true"])
    cid = runtime.new_id()
    runtime("run", "--keep", "-b", str(b), cid, check=True)
    p = runtime("start", cid)
    assert p.returncode == 1 and b"stopped" in p.stderr


def test_delete_running_without_force_fails(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(b), cid, check=True)
    p = runtime("delete", cid)
    assert p.returncode == 1 and b"not stopped" in p.stderr
    assert _status(runtime, cid) == "running"
    pid = runtime.state(cid)["pid"]
    assert runtime("delete", "--force", cid).returncode == 0
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_delete_created_container_needs_force(runtime, bundle):
    """runtime.md: deleting a container whose process still runs is an error; init of a created
    container is such a process (runc and crun delete it anyway)."""
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("create", "-b", str(b), cid, check=True)
    pid = runtime.state(cid)["pid"]
    p = runtime("delete", cid)
    assert p.returncode == 1 and b"not stopped: created" in p.stderr
    assert _status(runtime, cid) == "created"
    assert runtime("delete", "--force", cid).returncode == 0
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z")


def test_unknown_id_errors(runtime):
    for cmd in (["state"], ["kill"], ["delete"], ["start"]):
        p = runtime(*cmd, "nosuch")
        assert p.returncode == 1, cmd
        assert b"container does not exist" in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
    assert runtime("delete", "--force", "nosuch").returncode == 0


def test_duplicate_id_fails_and_changes_nothing(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("create", "-b", str(b), cid, check=True)
    before = runtime.state(cid)
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"already exists" in p.stderr
    assert runtime.state(cid) == before


def test_invalid_ids_rejected(runtime, bundle):
    b = bundle(["true"])
    for bad in ("a/b", "..", ".", "", "x\x01y", "../escape"):
        p = runtime("create", "-b", str(b), bad)
        assert p.returncode != 0, bad
    assert not runtime.root.exists() or not any(runtime.root.iterdir())


def test_kill_stopped_container_fails(runtime, bundle):
    b = bundle(["true"])
    cid = runtime.new_id()
    runtime("run", "--keep", "-b", str(b), cid, check=True)
    p = runtime("kill", cid, "9")
    assert p.returncode == 1 and b"not running" in p.stderr


def test_kill_signal_forms(runtime, bundle):
    b = bundle(["sh", "-c", "trap 'exit 0' USR1; while true; do sleep 0.05; done"])
    for form in ("USR1", "SIGUSR1", "10"):
        cid = runtime.new_id()
        runtime("run", "-d", "-b", str(b), cid, check=True)
        time.sleep(0.1)
        assert runtime("kill", cid, form).returncode == 0
        wait_for(lambda: _status(runtime, cid) == "stopped")
        runtime("delete", cid, check=True)


def test_kill_bad_signal(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("create", "-b", str(b), cid, check=True)
    for bad in ("NOTASIG", "0", "999", "-3"):
        p = runtime("kill", cid, bad)
        assert p.returncode != 0, bad
        assert _status(runtime, cid) == "created"


def test_kill_default_is_term(runtime, bundle):
    b = bundle(["sh", "-c", "trap 'exit 5' TERM; while true; do sleep 0.05; done"])
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(b), cid, check=True)
    time.sleep(0.1)
    runtime("kill", cid, check=True)
    wait_for(lambda: _status(runtime, cid) == "stopped")


def test_killed_from_outside_shows_stopped(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(b), cid, check=True)
    os.kill(runtime.state(cid)["pid"], signal.SIGKILL)
    wait_for(lambda: _status(runtime, cid) == "stopped")


def test_init_dying_before_start_is_reported(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("create", "-b", str(b), cid, check=True)
    os.kill(runtime.state(cid)["pid"], signal.SIGKILL)
    wait_for(lambda: _status(runtime, cid) == "stopped")
    p = runtime("start", cid)
    assert p.returncode == 1 and b"stopped" in p.stderr


def test_create_failure_leaves_nothing(runtime, bundle):
    b = bundle(["/nonexistent"])
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1
    assert b'exec: "/nonexistent": stat /nonexistent: no such file or directory' in p.stderr
    assert runtime("state", cid).returncode == 1
    # the audit in the fixture checks mounts and cgroups


def test_create_missing_and_non_executable(runtime, bundle):
    cid = runtime.new_id()
    p = runtime("create", "-b", str(bundle(["nosuchcmd"])), cid)
    assert p.returncode == 1 and b'exec: "nosuchcmd": executable file not found in $PATH' in p.stderr
    cid = runtime.new_id()
    p = runtime("create", "-b", str(bundle(["/etc/passwd"])), cid)
    assert p.returncode == 1 and b"permission denied" in p.stderr


def test_json_log_on_failure(runtime, bundle):
    log = runtime.tmp / "log.json"
    log.write_text('{"level":"info","msg":"earlier line","time":"2026-01-01T00:00:00Z"}\n')
    cid = runtime.new_id()
    p = runtime("create", "-b", str(bundle(["nosuchcmd"])), cid,
                globals_=("--log", str(log), "--log-format=json"))
    assert p.returncode == 1
    lines = log.read_text().splitlines()
    assert lines[0].startswith('{"level":"info","msg":"earlier line"')  # appended, not truncated
    last = json.loads(lines[-1])
    assert last["level"] == "error" and "executable file not found in $PATH" in last["msg"]
    assert set(last) >= {"level", "msg", "time"}
    # one plain line on stderr too
    assert len(p.stderr.strip().splitlines()) == 1
