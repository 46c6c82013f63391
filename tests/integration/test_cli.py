"""The command line as runc's users and clients know it: flags, exit codes, help, logs."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import PYOCI


def pyoci(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([PYOCI, *args], capture_output=True, timeout=60, **kw)


def test_version_format():
    p = pyoci("--version")
    assert p.returncode == 0
    lines = p.stdout.decode().splitlines()
    assert lines[0].startswith("pyoci version ")
    assert "spec: 1.3.0" in lines


def test_unknown_command_exits_3_like_runc():
    p = pyoci("frobnicate")
    assert p.returncode == 3
    assert len(p.stderr.strip().splitlines()) == 1


def test_unknown_flag_exits_1_like_runc():
    p = pyoci("--frob", "state", "x")
    assert p.returncode == 1
    assert b"flag provided but not defined" in p.stderr
    p = pyoci("state", "--frob", "x")
    assert p.returncode == 1


def test_missing_argument_is_usage_error():
    p = pyoci("state")
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1


def test_help_for_every_command():
    p = pyoci("--help")
    assert p.returncode == 0
    for cmd in ("create", "start", "state", "kill", "delete", "run", "exec", "list", "ps", "pause", "resume",
                "update", "events", "features", "spec"):
        assert cmd.encode() in p.stdout
        h = pyoci(cmd, "--help")
        assert h.returncode == 0, cmd
        assert b"Usage:" in h.stdout


def test_systemd_cgroup_and_rootless_flags_are_accepted(tmp_path):
    p = pyoci("--root", str(tmp_path), "--systemd-cgroup", "--rootless", "false", "state", "nosuch")
    assert p.returncode == 1 and b"container does not exist" in p.stderr


def test_json_log_for_usage_error(tmp_path):
    log = tmp_path / "log.json"
    p = pyoci("--log", str(log), "--log-format", "json", "state")
    assert p.returncode == 1
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error" and last["msg"]


def test_bad_log_format(tmp_path):
    p = pyoci("--log-format", "xml", "state", "x")
    assert p.returncode == 1 and b"log-format" in p.stderr


def test_no_traceback_on_bad_root(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    p = pyoci("--root", str(f / "sub"), "state", "x")
    assert p.returncode == 1
    assert b"Traceback" not in p.stderr
