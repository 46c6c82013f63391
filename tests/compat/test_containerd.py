"""containerd 1.6 (its io.containerd.runc.v2 shim, driven with ctr) running the runtime.

Every `ctr run` passes `--runtime <runtime_type> --runc-binary <options.BinaryName>` taken from
the containerd snippet of docs/clients.md (see clients.Ctr.run_argv).
Known ctr quirks (CLIENTS.md §5): `ctr run` never closes the task's stdin on EOF, so stdin
tests read one line; `task exec --user UID` without a gid makes ctr re-mount the running
container's snapshot, so users are given as UID:GID.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .harness import (assert_frozen_then_thawed, cap_eff, cgroup_dir, cgroup_procs, check, is_v1,
                      show, wait_for)
from .image import NOEXEC

CAP_CHOWN, CAP_NET_RAW, CAP_SYS_ADMIN = 0, 13, 21
TRAPPER = ("sh", "-c", 'trap "exit 3" TERM; echo ready > /tmp/ready; while :; do sleep 0.1; done')


def test_run_rm_echo(ctr):
    p = check(ctr.run("echo", "hello from the container"))
    assert p.stdout == "hello from the container\n", show(p)
    assert ctr.ids[-1] not in ctr("containers", "ls", "-q").stdout.split()


@pytest.mark.parametrize("cmd,rc", [
    (("true",), 0), (("false",), 1), (("sh", "-c", "exit 42"), 42),
])
def test_exit_code(ctr, cmd, rc):
    check(ctr.run(*cmd), rc)


@pytest.mark.parametrize("cmd,expect", [
    ("/nonexistent", r"OCI runtime create failed: .*/nonexistent"),
    (NOEXEC, r"OCI runtime create failed: .*permission denied"),
])
def test_failed_create_shows_runtime_message(ctr, cmd, expect):
    """The shim reads the runtime's last JSON line from --log (log.json) into ctr's error."""
    p = ctr.run(cmd)
    assert p.returncode != 0, show(p)
    assert re.search(expect, p.stderr, re.IGNORECASE), show(p)
    assert "unable to retrieve OCI runtime error" not in p.stderr, show(p)


def test_stdin(ctr):
    p = check(ctr.run("sh", "-c", "read l; echo got:$l", input="hello\n"))
    assert p.stdout == "got:hello\n", show(p)


def test_env_cwd(ctr):
    p = check(ctr.run("--env", "FOO=bar", "--cwd", "/tmp", "--", "sh", "-c", 'echo $FOO; pwd'))
    assert p.stdout.splitlines() == ["bar", "/tmp"], show(p)


def test_tty(ctr):
    argv = ctr.run_argv(("-t", "--", "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty"),
                        cid=ctr.new_id())
    rc, out = ctr.pty(*argv)
    assert rc == 0, out
    assert "/dev/pts/" in out and "stdin-is-a-tty" in out, out


def test_tty_interactive_shell(ctr):
    argv = ctr.run_argv(("-t", "--", "sh"), cid=ctr.new_id())
    rc, out = ctr.pty(*argv, steps=((r"# ", "echo $((6*7))\n"), (r"42", "exit 3\n")))
    assert rc == 3, out
    assert "42" in out, out


# --- a detached task -------------------------------------------------------------------------

@pytest.fixture
def task(ctr):
    cid = ctr.run_d("--", *TRAPPER)
    ready = Path(f"/proc/{ctr.pid(cid)}/root/tmp/ready")  # seen from the host: no exec needed
    wait_for(ready.exists, what=f"{cid} to start")
    assert ctr.task_status(cid) == "RUNNING"
    return cid


def test_task_exec(ctr, task):
    p = check(ctr(*ctr.exec_argv(task, "sh", "-c", "echo from-exec; cat /proc/1/cmdline")))
    assert p.stdout.startswith("from-exec\nsh\0-c\0"), show(p)
    check(ctr(*ctr.exec_argv(task, "sh", "-c", "exit 7")), 7)


def test_task_exec_missing_command(ctr, task):
    p = ctr(*ctr.exec_argv(task, "/nonexistent"))
    assert p.returncode != 0, show(p)
    assert re.search(r"OCI runtime exec failed: .*/nonexistent", p.stderr), show(p)
    assert "unable to retrieve OCI runtime error" not in p.stderr, show(p)
    assert ctr.task_status(task) == "RUNNING"


def test_task_exec_tty(ctr, task):
    rc, out = ctr.pty(*ctr.exec_argv(task, "sh", "-c", "tty; test -t 1 && echo out-is-a-tty",
                                     opts=("-t",)))
    assert rc == 0, out
    assert "/dev/pts/" in out and "out-is-a-tty" in out, out


def test_task_exec_user_cwd(ctr, task):
    p = check(ctr(*ctr.exec_argv(task, "sh", "-c", "id; pwd",
                                 opts=("--user", "65534:65534", "--cwd", "/tmp"))))
    assert p.stdout.startswith("uid=65534(nobody) gid=65534(nogroup)"), show(p)
    assert p.stdout.splitlines()[-1] == "/tmp", show(p)


def test_task_exec_detached(ctr, task):
    before = _ps(ctr, task)
    check(ctr(*ctr.exec_argv(task, "sleep", "1000", opts=("-d",))))
    after = wait_for(lambda: (lambda s: s if s - before else None)(_ps(ctr, task)),
                     what="the detached exec to show in task ps")
    for pid in after - before:
        assert Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x001000\x00", pid


@pytest.fixture
def family(ctr):
    """A task whose init has two children (no exec needed to have several processes)."""
    cid = ctr.run_d("--", "sh", "-c", "sleep 1000 & sleep 1000 & echo ready > /tmp/ready; wait")
    ready = Path(f"/proc/{ctr.pid(cid)}/root/tmp/ready")
    wait_for(ready.exists, what=f"{cid} to start")
    return cid


def test_task_ps(ctr, family):
    """`ctr task ps` shows the runtime's `ps --format json`: the host pids of the cgroup."""
    pids = _ps(ctr, family)
    assert ctr.pid(family) in pids and len(pids) == 3, pids
    assert pids == cgroup_procs(ctr.pid(family), "pids"), pids


def _ps(ctr, cid) -> set[int]:
    """`ctr task ps` (the runtime's `ps --format json`), without the transient `sleep 0.1`s."""
    out = ctr.ok("tasks", "ps", cid).stdout.splitlines()[1:]
    pids = {int(line.split()[0]) for line in out if line.strip()}
    steady = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() != b"sleep\x000.1\x00":
                steady.add(pid)
        except FileNotFoundError:
            pass
    return steady


def test_task_pause_resume(ctr, task):
    def pause():
        ctr.ok("tasks", "pause", task)
        assert ctr.task_status(task) == "PAUSED"

    def resume():
        ctr.ok("tasks", "resume", task)
        assert ctr.task_status(task) == "RUNNING"

    assert_frozen_then_thawed(ctr.pid(task), pause, resume)


def test_task_kill_term(ctr, task):
    ctr.ok("tasks", "kill", task)  # SIGTERM -> the trap exits 3
    wait_for(lambda: ctr.task_status(task) == "STOPPED", what="SIGTERM to stop the task")
    p = ctr.ok("tasks", "delete", task)
    assert "exit code 3" in p.stderr, show(p)


def test_task_kill_all(ctr, family):
    pids = _ps(ctr, family)
    ctr.ok("tasks", "kill", "--all", "-s", "SIGKILL", family)
    wait_for(lambda: ctr.task_status(family) == "STOPPED", what="kill --all to stop the task")
    wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in pids), what="all pids gone")
    p = ctr.ok("tasks", "delete", family)
    assert "exit code 137" in p.stderr, show(p)


def test_task_delete_force(ctr, task):
    pid = ctr.pid(task)
    ctr.ok("tasks", "delete", "-f", task)
    assert ctr.task_status(task) is None
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), what=f"init {pid} to go")
    ctr.ok("containers", "rm", task)


# --- resources and security ------------------------------------------------------------------

def test_memory_limit(ctr):
    cid = ctr.run_d("--memory-limit", str(64 * 1024 * 1024), "--", "sleep", "1000")
    d = cgroup_dir(ctr.pid(cid), "memory")
    f = "memory.limit_in_bytes" if is_v1(d) else "memory.max"
    assert (d / f).read_text().strip() == str(64 * 1024 * 1024), d


def test_cap_add_drop(ctr):
    base = cap_eff(check(ctr.run("cat", "/proc/self/status")).stdout)
    assert base & (1 << CAP_NET_RAW) and base & (1 << CAP_CHOWN)
    assert not base & (1 << CAP_SYS_ADMIN)
    p = check(ctr.run("--cap-add", "CAP_SYS_ADMIN", "--cap-drop", "CAP_NET_RAW", "--",
                      "cat", "/proc/self/status"))
    assert cap_eff(p.stdout) == (base | 1 << CAP_SYS_ADMIN) & ~(1 << CAP_NET_RAW), show(p)


def test_read_only(ctr):
    p = ctr.run("--read-only", "--", "touch", "/forbidden")
    assert p.returncode == 1 and "Read-only file system" in p.stderr + p.stdout, show(p)


def test_mount_rw(ctr, tmp_path):
    host = tmp_path / "vol"
    host.mkdir()
    check(ctr.run("--mount", f"type=bind,src={host},dst=/data,options=rbind:rw", "--",
                  "sh", "-c", "echo written > /data/f"))
    assert (host / "f").read_text() == "written\n"


def test_mount_ro(ctr, tmp_path):
    host = tmp_path / "vol"
    host.mkdir()
    (host / "f").write_text("from host\n")
    p = ctr.run("--mount", f"type=bind,src={host},dst=/data,options=rbind:ro", "--",
                "sh", "-c", "cat /data/f; echo x > /data/g")
    assert p.returncode == 1 and p.stdout.startswith("from host\n"), show(p)
    assert "Read-only file system" in p.stderr + p.stdout, show(p)
    assert not (host / "g").exists()

