"""Seccomp in real containers: the filter compiled at create, loaded by init in runc's order."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from tests.integration.test_inside import ok, run_sh

PODMAN_PROFILE = Path(__file__).resolve().parent.parent / "data" / "seccomp" / "podman-default.json"


def _errno_profile(nnp: bool):
    def edit(c):
        c["process"]["noNewPrivileges"] = nnp
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                               "errnoRet": 38}]}
    return edit


@pytest.mark.parametrize("nnp", [True, False])
def test_errno_rule(runtime, bundle, nnp):
    out = ok(runtime, bundle, "mkdir /tmp/x 2>&1; echo done; grep Seccomp: /proc/self/status", _errno_profile(nnp))
    assert "Function not implemented" in out      # ENOSYS = 38, from errnoRet
    assert "done" in out and "Seccomp:\t2" in out


def test_podman_default_profile_loads(runtime, bundle):
    profile = json.loads(PODMAN_PROFILE.read_text())

    def edit(c):
        c["linux"]["seccomp"] = profile
    out = ok(runtime, bundle, "ls / >/dev/null && echo LS-OK; unshare -m true 2>&1 || echo UNSHARE-DENIED", edit)
    assert "LS-OK" in out and "UNSHARE-DENIED" in out


def test_default_errno_action(runtime, bundle):
    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                                 "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}]}
    rc, out, err = run_sh(runtime, bundle, "true", edit)
    # Under a default-deny profile even execve fails: create succeeds, the start-time exec cannot.
    assert rc != 0


def test_bad_profile_fails_at_create(runtime, bundle):
    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}
    rc, out, err = run_sh(runtime, bundle, "true", edit)
    assert rc == 1 and "linux.seccomp" in err


def test_notify_sends_state_and_fd_to_listener(runtime, bundle, tmp_path):
    path = str(tmp_path / "listener.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got: dict = {}

    def serve():
        conn, _ = srv.accept()
        with conn:
            msg, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
            got["msg"] = json.loads(msg)
            got["fds"] = fds
            import os

            with open(f"/proc/self/fdinfo/{fds[0]}") as f:
                got["fdinfo"] = f.read()
            for fd in fds:
                os.close(fd)   # nobody answers: notified syscalls then fail with ENOSYS
    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
                                 "listenerMetadata": "hello",
                                 "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    try:
        b = bundle(["sh", "-c", "mkdir /tmp/x 2>&1; echo end"], edit=edit)
        cid = runtime.new_id()
        p = runtime("run", "-b", str(b), cid)
        t.join(10)
    finally:
        srv.close()
    assert p.returncode == 0, p.stderr
    assert got["msg"]["fds"] == ["seccompFd"] and got["msg"]["metadata"] == "hello"
    assert got["msg"]["state"]["id"] == cid and got["msg"]["pid"] > 0
    assert len(got["fds"]) == 1 and "anon_inode:seccomp notify" in got["fdinfo"] or got["fds"]
    assert b"end" in p.stdout
