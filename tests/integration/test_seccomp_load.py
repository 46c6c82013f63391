"""Filters compiled by ociruntime.seccomp, loaded into the real kernel in forked children.

Each test forks; the child loads the filter (as the container's init will), exercises
syscalls and reports through a pipe; the parent checks the result or the signal. Root only
(loading needs CAP_SYS_ADMIN without no_new_privs, and pidfd_getfd needs ptrace rights).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import resource
import select
import signal
import socket
import struct
import threading
from pathlib import Path

import pytest

from ociruntime import seccomp as sc

DATA = Path(__file__).resolve().parents[1] / "data" / "seccomp"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(sc.libseccomp_version() is None, reason="libseccomp.so.2 not installed"),
    pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers below are x86_64's"),
]

NR = {"getpriority": 140, "getpgid": 121, "acct": 163, "mkdir": 83, "uname": 63}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def syscall(nr: int, *args: int) -> int:
    """Raw syscall: the result, or -errno."""
    ret = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return -ctypes.get_errno() if ret == -1 else ret


def errno_of(fn) -> int:
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def run_child(body, *, pass_fds: tuple[int, ...] = ()) -> tuple[int, object]:
    """Fork, run body() in the child, return (wait status, JSON result of body)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                              # child
        code = 0
        try:
            os.close(r)
            # SIGSYS dumps core; the core_pattern here writes into the cwd. No cores.
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            _libc.prctl(4, 0, 0, 0, 0)                        # PR_SET_DUMPABLE 0
            out = json.dumps(body()).encode()
            os.write(w, out)
        except BaseException as e:                            # noqa: BLE001 - report anything
            os.write(w, json.dumps({"exception": repr(e)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    return status, json.loads(data) if data else None


def in_filter(profile: dict, body):
    """Load `profile` in a child, run body() under it; return body's result (fails on a crash)."""
    f = sc.prepare(profile)

    def child():
        f.load()
        return body()

    status, result = run_child(child)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, result)
    return result


def allow(*rules, **kw) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(rules), **kw}


def podman() -> dict:
    return json.loads((DATA / "podman-default.json").read_text())


# --- actions -----------------------------------------------------------------------------------

def test_errno_with_errno_ret(tmp_path):
    p = allow({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV},
              {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},                       # EPERM by default
              {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTTY})
    target = tmp_path / "d"
    got = in_filter(p, lambda: [errno_of(lambda: os.mkdir(target)), errno_of(os.getcwd),
                                errno_of(os.uname), errno_of(os.getpid)])
    assert got == [errno.EXDEV, errno.EPERM, errno.ENOTTY, 0]
    assert not target.exists()
    # The same calls work without the filter: the errors above are the filter's.
    assert run_child(lambda: [errno_of(lambda: os.mkdir(target)), errno_of(os.getcwd)])[1] == [0, 0]


def test_default_action_errno():
    p = podman()
    p["defaultErrnoRet"] = errno.EACCES
    for rule in p["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in ("uname", "getcwd")]
    p["syscalls"] = [r for r in p["syscalls"] if r["names"]]
    got = in_filter(p, lambda: [errno_of(os.uname), errno_of(os.getcwd), errno_of(os.getpid),
                                -syscall(NR["acct"], 0)])
    assert got == [errno.EACCES, errno.EACCES, 0, errno.EPERM]    # acct: the profile's ERRNO(EPERM) rule


def test_enosys_for_syscalls_newer_than_the_profile():
    # runc's -ENOSYS stub: with a deny-by-default EPERM profile, a syscall number above every
    # syscall the profile names gets ENOSYS (glibc then falls back), lower ones the default.
    p = podman()
    p["defaultErrnoRet"] = errno.EPERM
    got = in_filter(p, lambda: [-syscall(1000), -syscall(400), -syscall(NR["acct"], 0), errno_of(os.getpid)])
    assert got == [errno.ENOSYS, errno.EPERM, errno.EPERM, 0]
    # Without the stub (default ALLOW profile) the kernel itself says ENOSYS for 1000 too;
    # with an EPERM default and no listed architectures (runc: no stub), 1000 gets EPERM.
    del p["architectures"]
    assert in_filter(p, lambda: -syscall(1000)) == errno.EPERM


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_kill_and_trap_give_sigsys(action):
    f = sc.prepare(allow({"names": ["getcwd"], "action": action}))

    def child():
        f.load()
        os.getcwd()
        return "survived"

    status, result = run_child(child)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS, (status, result)
    assert result is None


@pytest.mark.parametrize("action,process_dies", [("SCMP_ACT_KILL_THREAD", False), ("SCMP_ACT_KILL_PROCESS", True)])
def test_kill_thread_versus_kill_process(action, process_dies):
    f = sc.prepare(allow({"names": ["getcwd"], "action": action}))

    def child():
        import time

        f.load()
        tid = []
        # A thread killed by seccomp never tells Python it ended: watch /proc instead of join().
        threading.Thread(target=lambda: (tid.append(threading.get_native_id()), os.getcwd()), daemon=True).start()
        deadline = time.monotonic() + 10
        while (not tid or os.path.exists(f"/proc/self/task/{tid[0]}")) and time.monotonic() < deadline:
            time.sleep(0.01)
        return "main thread survived" if tid and not os.path.exists(f"/proc/self/task/{tid[0]}") else "timeout"

    status, result = run_child(child)
    if process_dies:
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS
    else:
        assert os.WIFEXITED(status) and result == "main thread survived"


def test_trace_without_tracer_is_enosys_and_log_allows():
    p = allow({"names": ["getcwd"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
              {"names": ["uname"], "action": "SCMP_ACT_LOG"})
    assert in_filter(p, lambda: [errno_of(os.getcwd), os.uname().sysname]) == [errno.ENOSYS, "Linux"]


# --- argument filters ------------------------------------------------------------------------------

HIT = errno.EXDEV           # an errno getpgid(2) never returns by itself
OPS = [
    # op, value, valueTwo, {arg: filtered?}
    ("SCMP_CMP_EQ", 10, None, {5: False, 10: True, 20: False}),
    ("SCMP_CMP_NE", 10, None, {5: True, 10: False, 20: True}),
    ("SCMP_CMP_LT", 10, None, {5: True, 10: False, 20: False}),
    ("SCMP_CMP_LE", 10, None, {5: True, 10: True, 20: False}),
    ("SCMP_CMP_GT", 10, None, {5: False, 10: False, 20: True}),
    ("SCMP_CMP_GE", 10, None, {5: False, 10: True, 20: True}),
    ("SCMP_CMP_MASKED_EQ", 0xFF00, 0x0100, {0x0100: True, 0x01FF: True, 0x0200: False, 0x1100: False}),
    # 64-bit values: the upper half is compared too.
    ("SCMP_CMP_GT", 0xFFFFFFFF, None, {0xFFFFFFFF: False, 0x1_0000_0000: True, 0x1_0000_0005: True}),
    ("SCMP_CMP_EQ", 0x7_0000_0005, None, {5: False, 0x7_0000_0005: True}),
]


@pytest.mark.parametrize("op,value,two,expect", OPS, ids=[f"{o[0][9:]}-{o[1]:#x}" for o in OPS])
def test_argument_operator(op, value, two, expect):
    arg = {"index": 0, "value": value, "op": op}
    if two is not None:
        arg["valueTwo"] = two
    p = allow({"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": HIT, "args": [arg]})
    got = in_filter(p, lambda: {str(a): -syscall(NR["getpgid"], a) == HIT for a in expect})
    assert got == {str(a): hit for a, hit in expect.items()}


def test_several_args_are_anded_and_a_repeated_index_is_ored_like_runc():
    def eq(i, v):
        return {"index": i, "value": v, "op": "SCMP_CMP_EQ"}

    def probe():
        # getpriority(which, who): PRIO_PROCESS=0, PRIO_PGRP=1; unknown ids give ESRCH.
        return [-syscall(NR["getpriority"], w, who) == HIT for w, who in ((0, 77), (1, 77), (0, 78), (0, 79))]

    anded = allow({"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": HIT,
                   "args": [eq(0, 0), eq(1, 77)]})
    assert in_filter(anded, probe) == [True, False, False, False]
    # The same index twice cannot be ANDed (it would never match): runc adds one rule per arg.
    ored = allow({"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": HIT,
                  "args": [eq(1, 77), eq(1, 78)]})
    assert in_filter(ored, probe) == [True, True, True, False]


# --- flags -----------------------------------------------------------------------------------------

def test_log_spec_allow_and_tsync_flags_load():
    flags = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]
    p = allow({"names": ["uname"], "action": "SCMP_ACT_ERRNO"}, flags=flags)
    assert sc.prepare(p).flags == 0b111
    assert in_filter(p, lambda: errno_of(os.uname)) == errno.EPERM


@pytest.mark.parametrize("tsync", [True, False])
def test_tsync_reaches_threads_started_before_the_filter(tsync):
    p = allow({"names": ["uname"], "action": "SCMP_ACT_ERRNO"}, flags=["SECCOMP_FILTER_FLAG_TSYNC"] if tsync else [])
    f = sc.prepare(p)

    def child():
        go, result = threading.Event(), []
        t = threading.Thread(target=lambda: (go.wait(), result.append(errno_of(os.uname))))
        t.start()
        f.load()
        go.set()
        t.join()
        return [result[0], errno_of(os.uname)]

    status, got = run_child(child)
    assert os.WIFEXITED(status), got
    assert got == [errno.EPERM if tsync else 0, errno.EPERM]


# --- SCMP_ACT_NOTIFY: listener socket, containerProcessState, a working notify fd --------------

SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100      # _IOWR('!', 0, struct seccomp_notif)      (80 bytes)
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101      # _IOWR('!', 1, struct seccomp_notif_resp) (24 bytes)


def _agent_socket(path: Path) -> socket.socket:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    return srv


@pytest.mark.parametrize("extra_flags", [[], ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]])
def test_notify_sends_state_and_a_working_listener_fd(tmp_path, extra_flags):
    sock_path = tmp_path / "agent.sock"
    srv = _agent_socket(sock_path)
    f = sc.prepare(allow({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"},
                         listenerPath=str(sock_path), listenerMetadata="MKDIR=refuse", flags=extra_flags))
    assert f.wants_listener
    fd_r, fd_w = os.pipe()          # child -> runtime: the listener fd number (write(2), as runc)
    go_r, go_w = os.pipe()          # runtime -> child: the agent has the fd
    target = tmp_path / "made-by-notified-mkdir"

    def child():
        os.close(fd_r)
        os.close(go_w)
        fd = f.load()
        link = os.readlink(f"/proc/self/fd/{fd}")
        os.write(fd_w, str(fd).encode())
        os.read(go_r, 1)
        os.close(fd)                # init must not keep its own listener across execve
        return [link, errno_of(lambda: os.mkdir(target))]

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            out = json.dumps(child()).encode()
            os.write(w, out)
        finally:
            os._exit(0)
    os.close(w)
    os.close(fd_w)
    os.close(go_r)
    try:
        # The runtime's side: copy the fd out of the child and send it to the agent.
        remote = int(os.read(fd_r, 32))
        fd = sc.take_listener_fd(pid, remote)
        assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:seccomp notify"
        state = {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": pid, "bundle": str(tmp_path)}
        f.send_listener(fd, state)
        os.close(fd)

        # The agent's side.
        conn, _ = srv.accept()
        msg, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
        while more := conn.recv(65536):         # one state per connection, then EOF
            msg += more
        conn.close()
        assert len(fds) == 1
        doc = json.loads(msg)
        assert doc == {"ociVersion": "1.3.0", "fds": ["seccompFd"], "pid": pid, "metadata": "MKDIR=refuse",
                       "state": state}
        agent_fd = fds[0]
        assert "seccomp notify" in os.readlink(f"/proc/self/fd/{agent_fd}")
        os.write(go_w, b"g")

        # Answer the child's mkdir with EXDEV (SECCOMP_IOCTL_NOTIF_RECV/SEND).
        assert select.select([agent_fd], [], [], 10)[0], "no notification within 10 s"
        req = bytearray(80)
        fcntl.ioctl(agent_fd, SECCOMP_IOCTL_NOTIF_RECV, req, True)
        notif_id, notif_pid, _f, nr = struct.unpack_from("=QIIi", req)
        assert notif_pid == pid and nr in (NR["mkdir"], 258)          # mkdir or mkdirat
        fcntl.ioctl(agent_fd, SECCOMP_IOCTL_NOTIF_SEND, struct.pack("=QqiI", notif_id, 0, -errno.EXDEV, 0))
        os.close(agent_fd)
    finally:
        os.close(go_w)
        srv.close()
        out = b""
        while chunk := os.read(r, 65536):
            out += chunk
        os.close(r)
        os.close(fd_r)
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out
    link, mkdir_errno = json.loads(out)
    assert link == "anon_inode:seccomp notify"
    assert mkdir_errno == errno.EXDEV and not target.exists()


def test_send_listener_failure_names_the_path(tmp_path):
    from ociruntime.errors import SetupError

    f = sc.prepare(allow({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}, listenerPath=str(tmp_path / "none.sock")))
    with pytest.raises(SetupError, match=r"^linux\.seccomp\.listenerPath .*/none\.sock: sending the seccomp fd: "
                                         r"no such file or directory$"):
        f.send_listener(0, {"ociVersion": "1.3.0", "pid": 1})


# --- the profile podman passes by default ------------------------------------------------------------

def test_podman_default_profile_loads_and_ls_works(tmp_path):
    (tmp_path / "hello").write_text("hi")
    f = sc.prepare(podman(), str(tmp_path / "cache"))
    assert f.flags == sc.prepare(podman()).flags and f.bpf == sc.prepare(podman()).bpf
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            f.load()
            os.execv("/bin/busybox", ["ls", "-l", str(tmp_path)])
        finally:
            os._exit(127)
    os.close(w)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"hello" in out

    # And it does filter: what podman denies is denied under it.
    got = in_filter(podman(), lambda: [-syscall(NR["acct"], 0), errno_of(os.getpid), -syscall(1000)])
    assert got == [errno.EPERM, 0, errno.ENOSYS]
