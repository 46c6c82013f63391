"""podman 4.3 (through conmon) driving the runtime: the scenarios of issue 6, one test each.

The runtime is registered by the containers.conf snippet of docs/clients.md, so every podman
command here runs it under the name `pyoci` (listed in runtime_supports_json: conmon passes
`--log-format=json --log FILE` to create and exec).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .harness import (assert_frozen_then_thawed, cap_eff, cgroup_dir, check, is_v1, show,
                      wait_for)
from .image import NOEXEC

CAP_NET_RAW, CAP_SYS_ADMIN = 13, 21
# A container that reports the signals it gets; TERM makes it exit 3 (podman stop).
TRAPPER = ("sh", "-c", 'trap "echo got-TERM; exit 3" TERM; trap "echo got-USR1" USR1; '
           'echo ready; while :; do sleep 0.1; done')


def no_generic_error(p) -> None:
    assert "unable to retrieve OCI runtime error" not in p.stderr, show(p)


# --- run --rm --------------------------------------------------------------------------------

def test_run_rm_echo(podman):
    p = check(podman.run("echo", "hello from the container"))
    assert p.stdout == "hello from the container\n", show(p)
    name = podman.names[-1]
    assert podman("container", "exists", name).returncode == 1, f"--rm left {name}"


def test_runtime_given_by_path(podman, compat_runtime):
    """`podman --runtime /path/to/runtime`: podman names it by its basename."""
    p = check(podman("--runtime", compat_runtime, "run", "--rm", "--name", podman.name(),
                     podman.image, "echo", "by path"))
    assert p.stdout == "by path\n", show(p)


@pytest.mark.parametrize("cmd,rc", [
    (("true",), 0), (("false",), 1), (("sh", "-c", "exit 42"), 42),
])
def test_exit_code(podman, cmd, rc):
    check(podman.run(*cmd), rc)


def test_exit_127_missing_command_shows_runtime_message(podman):
    p = check(podman.run("/nonexistent"), 127)
    # The path comes only from the runtime's own error (podman adds its generic sentence).
    assert "/nonexistent" in p.stderr, show(p)
    no_generic_error(p)


def test_exit_126_not_executable_shows_runtime_message(podman):
    p = check(podman.run(NOEXEC), 126)
    # podman maps the runtime's "permission denied" to 126 and appends "OCI permission denied";
    # the runtime's own part comes before that (runc names the path, crun does not).
    runtime_part = p.stderr.rsplit(": OCI permission denied", 1)[0]
    assert "permission denied" in runtime_part.lower(), show(p)
    no_generic_error(p)


def test_failed_create_writes_json_log(podman):
    """runtime_supports_json in effect: conmon passed --log-format=json --log <userdata>/oci-log
    and the runtime wrote its error there as a JSON line podman could parse."""
    name = podman.name()
    p = check(podman("create", "--name", name, podman.image, "/nonexistent"))
    p = podman("start", name)
    assert p.returncode != 0, show(p)
    assert "/nonexistent" in p.stderr, show(p)
    no_generic_error(p)
    cid = podman.inspect(name, "{{.Id}}")
    oci_log = podman.s.home / "run" / f"{podman.s.driver}-containers" / cid / "userdata/oci-log"
    last = json.loads(oci_log.read_text().strip().splitlines()[-1])
    assert "/nonexistent" in last["msg"], last


# --- stdio and terminals ---------------------------------------------------------------------

def test_stdin_interactive(podman):
    p = check(podman.run("-i", "--", "sh", "-c", "cat; echo done", input="line one\nline two\n"))
    assert p.stdout == "line one\nline two\ndone\n", show(p)


def test_tty(podman):
    name = podman.name()
    rc, out = podman.pty("run", "--rm", "-t", "--name", name, podman.image,
                         "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; stty size")
    assert rc == 0, out
    assert "/dev/pts/" in out and "stdin-is-a-tty" in out, out
    assert "24 80" in out, out


def test_tty_interactive_shell(podman):
    name = podman.name()
    rc, out = podman.pty("run", "--rm", "-it", "--name", name, podman.image, "sh",
                         steps=((r"# ", "echo $((6*7))\n"), (r"42", "exit 3\n")))
    assert rc == 3, out
    assert "42" in out, out


def test_env_workdir_hostname(podman):
    p = check(podman.run("-e", "FOO=bar baz", "-w", "/tmp", "--hostname", "compatbox", "--",
                         "sh", "-c", 'echo "$FOO"; pwd; hostname'))
    assert p.stdout.splitlines() == ["bar baz", "/tmp", "compatbox"], show(p)


def test_network_none(podman):
    p = check(podman.run("ls", "/sys/class/net"))
    assert p.stdout.split() == ["lo"], show(p)


# --- a detached container: exec, pause, stop, start, kill, rm -f ------------------------------

@pytest.fixture
def running(podman):
    name = podman.run_d("--", *TRAPPER)
    wait_for(lambda: "ready" in podman("logs", name).stdout, what=f"{name} to start")
    assert podman.status(name) == "running"
    return name


def test_exec(podman, running):
    p = check(podman("exec", running, "sh", "-c", "echo from-exec; cat /proc/1/cmdline"))
    assert p.stdout.startswith("from-exec\nsh\0-c\0"), show(p)
    check(podman("exec", running, "sh", "-c", "exit 7"), 7)


def test_exec_missing_command(podman, running):
    p = podman("exec", running, "/nonexistent")
    assert p.returncode == 127, show(p)
    assert "/nonexistent" in p.stderr, show(p)
    no_generic_error(p)


def test_exec_interactive(podman, running):
    p = check(podman("exec", "-i", running, "sh", "-c", "read l; echo got:$l", input="hello\n"))
    assert p.stdout == "got:hello\n", show(p)


def test_exec_tty(podman, running):
    rc, out = podman.pty("exec", "-t", running, "sh", "-c", "tty; test -t 1 && echo out-is-a-tty")
    assert rc == 0, out
    assert "/dev/pts/" in out and "out-is-a-tty" in out, out


def test_exec_detached(podman, running):
    check(podman("exec", "-d", running, "sh", "-c", "sleep 0.2; echo done > /tmp/exec-d"))
    wait_for(lambda: podman("exec", running, "cat", "/tmp/exec-d").stdout == "done\n",
             what="the detached exec to write its file")


@pytest.mark.parametrize("user,expect", [
    ("nobody", "uid=65534(nobody) gid=65534(nogroup)"),
    ("1000:1000", "uid=1000(tester) gid=1000(tester)"),
])
def test_exec_user(podman, running, user, expect):
    p = check(podman("exec", "--user", user, running, "id"))
    assert p.stdout.startswith(expect), show(p)


def test_pause_unpause(podman, running):
    def pause():
        podman.ok("pause", running)
        assert podman.status(running) == "paused"

    def unpause():
        podman.ok("unpause", running)
        assert podman.status(running) == "running"

    assert_frozen_then_thawed(podman.pid(running), pause, unpause)


def test_stop_then_start_again(podman, running):
    t0 = time.monotonic()
    podman.ok("stop", "-t", "20", running)
    took = time.monotonic() - t0
    assert took < 10, f"stop took {took:.1f}s: SIGTERM was not delivered (kill ID 15)"
    assert podman.status(running) == "exited"
    assert podman.inspect(running, "{{.State.ExitCode}}") == "3"
    assert "got-TERM" in podman("logs", running).stdout
    podman.ok("start", running)  # a second create+start of the same container
    wait_for(lambda: podman("logs", running).stdout.count("ready") == 2, what="second start")
    assert podman.status(running) == "running"


def test_stop_timeout_kills(podman):
    name = podman.run_d("sleep", "1000")  # pid 1 without a TERM handler ignores SIGTERM
    podman.ok("stop", "-t", "1", name)
    assert podman.status(name) == "exited"
    assert podman.inspect(name, "{{.State.ExitCode}}") == "137"


def test_kill(podman, running):
    podman.ok("kill", "-s", "USR1", running)
    wait_for(lambda: "got-USR1" in podman("logs", running).stdout, what="USR1 to be delivered")
    assert podman.status(running) == "running"
    podman.ok("kill", running)  # SIGKILL
    p = podman.ok("wait", running)
    assert p.stdout.strip() == "137", show(p)
    assert podman.status(running) == "exited"


def test_rm_force_running(podman, running):
    pid = podman.pid(running)
    podman.ok("rm", "-f", running)
    assert podman("container", "exists", running).returncode == 1
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), what=f"container init {pid} to go")


def test_restart(podman, running):
    podman.ok("restart", "-t", "0", running)
    assert podman.status(running) == "running"
    wait_for(lambda: podman("logs", running).stdout.count("ready") == 2, what="the restart")


# --- resources and security ------------------------------------------------------------------

def test_memory_limit(podman):
    name = podman.run_d("--memory", "64m", "--", "sleep", "1000")
    d = cgroup_dir(podman.pid(name), "memory")
    f = "memory.limit_in_bytes" if is_v1(d) else "memory.max"
    assert (d / f).read_text().strip() == str(64 * 1024 * 1024), d


def test_cpus_quota_applied(podman):
    name = podman.run_d("--cpus", "0.2", "--", "sh", "-c", "while :; do :; done")
    pid = podman.pid(name)
    d = cgroup_dir(pid, "cpu")
    if is_v1(d):
        quota = int((d / "cpu.cfs_quota_us").read_text())
        period = int((d / "cpu.cfs_period_us").read_text())
    else:
        q, p = (d / "cpu.max").read_text().split()
        quota, period = int(q), int(p)
    assert quota / period == pytest.approx(0.2), (quota, period)
    # ... and enforced: a busy loop gets throttled to ~20% of one CPU.
    usage0, t0 = _cpu_usage_s(pid), time.monotonic()
    time.sleep(1.0)
    share = (_cpu_usage_s(pid) - usage0) / (time.monotonic() - t0)
    assert share < 0.35, f"busy loop used {share:.0%} of a CPU with --cpus 0.2"

    def throttled() -> int:
        stat = dict(line.split() for line in (d / "cpu.stat").read_text().splitlines())
        return int(stat["nr_throttled"])

    wait_for(throttled, timeout=10, what="the CFS quota to throttle the busy loop")


def _cpu_usage_s(pid: int) -> float:
    d = cgroup_dir(pid, "cpuacct")
    if is_v1(d):
        return int((d / "cpuacct.usage").read_text()) / 1e9
    stat = dict(line.split() for line in (d / "cpu.stat").read_text().splitlines())
    return int(stat["usage_usec"]) / 1e6


def test_pids_limit(podman):
    name = podman.run_d("--pids-limit", "50", "--", "sleep", "1000")
    d = cgroup_dir(podman.pid(name), "pids")
    assert (d / "pids.max").read_text().strip() == "50"


def test_cap_drop_all(podman):
    p = check(podman.run("--cap-drop", "ALL", "--", "cat", "/proc/self/status"))
    assert cap_eff(p.stdout) == 0, show(p)


def test_cap_drop_all_add_one(podman):
    p = check(podman.run("--cap-drop", "ALL", "--cap-add", "NET_RAW", "--",
                         "cat", "/proc/self/status"))
    assert cap_eff(p.stdout) == 1 << CAP_NET_RAW, show(p)


def test_cap_add(podman):
    base = cap_eff(check(podman.run("cat", "/proc/self/status")).stdout)
    assert not base & (1 << CAP_SYS_ADMIN)
    p = check(podman.run("--cap-add", "SYS_ADMIN", "--", "cat", "/proc/self/status"))
    assert cap_eff(p.stdout) == base | (1 << CAP_SYS_ADMIN), show(p)


@pytest.mark.parametrize("user,expect", [
    ("tester", "uid=1000(tester) gid=1000(tester)"),
    ("65534:65534", "uid=65534(nobody) gid=65534(nogroup)"),
])
def test_user(podman, user, expect):
    p = check(podman.run("--user", user, "--", "id"))
    assert p.stdout.startswith(expect), show(p)


def test_read_only(podman):
    p = podman.run("--read-only", "--", "sh", "-c", "touch /tmp/ok && touch /forbidden")
    assert p.returncode == 1, show(p)
    assert "Read-only file system" in p.stderr + p.stdout, show(p)


def test_volume_rw(podman, tmp_path):
    host = tmp_path / "vol"
    host.mkdir()
    check(podman.run("-v", f"{host}:/data", "--", "sh", "-c", "echo written > /data/f"))
    assert (host / "f").read_text() == "written\n"


def test_volume_ro(podman, tmp_path):
    host = tmp_path / "vol"
    host.mkdir()
    (host / "f").write_text("from host\n")
    p = podman.run("-v", f"{host}:/data:ro", "--", "sh", "-c", "cat /data/f; echo x > /data/g")
    assert p.returncode == 1 and p.stdout == "from host\n", show(p)
    assert "Read-only file system" in p.stderr, show(p)
    assert not (host / "g").exists()


def test_init(podman):
    p = check(podman.run("--init", "--", "sh", "-c", "cat /proc/1/cmdline; echo; exit 0"))
    assert p.stdout.startswith("/run/podman-init\0"), show(p)
    check(podman.run("--init", "--", "sh", "-c", "exit 5"), 5)
