"""Terminals (issue 5 item 2): --console-socket as conmon and containerd's shim use it, and a
foreground `run`/`exec -t` relaying our own terminal, like runc."""

from __future__ import annotations

import json
import os
import signal
import termios
import time

import pytest

from tests.conftest import wait_for
from tests.helpers_tty import ConsoleSocket, PtyProcess, adopt_orphans, read_until

orphans = pytest.fixture(adopt_orphans)

PROMPT = b"/ # "


@pytest.fixture
def console(tmp_path):
    sockets: list[ConsoleSocket] = []

    def make(name: str = "console.sock") -> ConsoleSocket:
        s = ConsoleSocket(str(tmp_path / name))
        sockets.append(s)
        return s
    yield make
    for s in sockets:
        s.close()


def _running(runtime, bundle, args=("sleep", "300"), edit=None) -> tuple[str, int]:
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(bundle(list(args), edit=edit)), cid, check=True)
    return cid, runtime.state(cid)["pid"]


def _pyoci(runtime, *args: str) -> list[str]:
    return [runtime.binary, "--root", str(runtime.root), *args]


# --- run in the foreground, relayed ---------------------------------------------------------

def test_run_foreground_tty_through_a_pty(runtime, bundle):
    b = bundle(["sh"], terminal=True)
    cid = runtime.new_id()
    p = PtyProcess(_pyoci(runtime, "run", "-b", str(b), cid), rows=33, cols=111)
    try:
        p.expect(PROMPT)
        # The container's shell has its own pty (not ours), sized like ours at start.
        p.send(b"tty; stty size; echo $TERM; echo sum-$((6*7))\r")
        out = p.expect(b"sum-42\r\n")
        assert b"/dev/pts/0\r\n33 111\r\nxterm\r\n" in out
        p.send(b"exit 3\r")
        assert p.wait() == 3
    finally:
        p.close()
    assert runtime("state", cid).returncode == 1     # run deleted it


def test_run_tty_window_resize_and_raw_mode(runtime, bundle):
    b = bundle(["sh"], terminal=True)
    cid = runtime.new_id()
    p = PtyProcess(_pyoci(runtime, "run", "-b", str(b), cid), rows=24, cols=80)
    try:
        p.expect(PROMPT)
        # While relaying, our terminal is raw: no echo, no signals from ^C, no line editing.
        attrs = p.termios()
        assert not attrs[3] & (termios.ECHO | termios.ICANON | termios.ISIG)
        p.resize(50, 132)           # SIGWINCH to the runtime, which resizes the container's pty
        p.send(b"stty size\r")
        p.expect(b"50 132\r\n")
        # ^C goes to the container's foreground job as a byte, not to the runtime as SIGINT.
        p.send(b"sleep 100\r")
        p.expect(b"sleep 100\r\n")
        time.sleep(0.5)             # let the shell start it (a ^C before that goes to the shell)
        p.send(b"\x03")
        p.send(b"echo after-$((1+1))\r")
        p.expect(b"after-2\r\n")
        p.send(b"exit\r")
        assert p.wait() == 0
        # ...and restored on the way out.
        attrs = p.termios()
        assert attrs[3] & termios.ECHO and attrs[3] & termios.ICANON and attrs[3] & termios.ISIG
    finally:
        p.close()


def test_run_tty_exit_by_signal(runtime, bundle):
    # init (pid 1 of its namespace) ignores signals it has no handler for, but not SIGKILL
    b = bundle(["sh", "-c", "echo up; sleep 300"], terminal=True)
    cid = runtime.new_id()
    p = PtyProcess(_pyoci(runtime, "run", "-b", str(b), cid))
    try:
        p.expect(b"up")
        runtime("kill", cid, "KILL", check=True)
        assert p.wait() == 128 + signal.SIGKILL
    finally:
        p.close()


def test_run_tty_without_a_host_terminal(runtime, bundle):
    # stdin a pipe, stdout a file: relayed anyway (runc 1.1 would fail opening /dev/tty); EOF on
    # stdin becomes the pty's EOF character, so `cat` ends.
    b = bundle(["sh", "-c", "cat; echo done"], terminal=True)
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid, input=b"hello\n", timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.replace(b"\r\n", b"\n").count(b"hello\n") == 2    # echo by the pty + cat
    assert p.stdout.endswith(b"done\r\n")


def test_run_foreground_refuses_console_socket(runtime, bundle, console):
    s = console()
    b = bundle(["true"], terminal=True)
    p = runtime("run", "--console-socket", s.path, "-b", str(b), runtime.new_id())
    assert p.returncode == 1
    assert b"cannot use console socket if pyoci will not detach" in p.stderr


# --- create with --console-socket -------------------------------------------------------------

def test_create_console_socket_one_fd_one_message(runtime, bundle, console):
    s = console()

    def edit(c):
        c["process"]["consoleSize"] = {"height": 20, "width": 70}
    b = bundle(["sh", "-c", "tty; stty size; read x; echo got-$x; exit 4"], terminal=True, edit=edit)
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), "--console-socket", s.path, cid)
    assert p.returncode == 0, p.stderr
    master = s.master()
    assert s.payloads == [b"/dev/ptmx"]
    runtime("start", cid, check=True)
    out = read_until(master, b"20 70\r\n")
    assert b"/dev/pts/0" in out
    os.write(master, b"abc\n")
    read_until(master, b"got-abc")
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")
    os.close(master)
    runtime("delete", cid, check=True)


def test_create_terminal_without_console_socket_fails(runtime, bundle):
    b = bundle(["true"], terminal=True)
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1
    assert b"cannot allocate tty" in p.stderr and b"console socket" in p.stderr
    assert runtime("state", cid).returncode == 1


# --- exec --------------------------------------------------------------------------------------

def test_exec_tty_console_socket_conmon_style(orphans, runtime, bundle, console, tmp_path):
    """podman exec -t: --pid-file, --process (terminal: true), --detach, --tty, --console-socket."""
    cid, init = _running(runtime, bundle)
    s = console()
    proc = {"terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "tty; echo $$; read x; echo got-$x"],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "container=podman", "HOME=/root"],
            "cwd": "/"}
    pf = tmp_path / "exec.pid"
    (tmp_path / "process.json").write_text(json.dumps(proc))
    p = runtime("exec", "--pid-file", str(pf), "--process", str(tmp_path / "process.json"), "--detach", "--tty",
                "--console-socket", s.path, cid)
    assert p.returncode == 0, p.stderr
    master = s.master()
    pid = int(pf.read_text())
    out = read_until(master, b"\r\n", buf=bytearray())
    out = read_until(master, b"\n", buf=bytearray(out))
    tty_name = out.split(b"\r\n")[0]
    assert tty_name.startswith(b"/dev/pts/")
    # in the container, and re-parented to us (its subreaper, as conmon is) once pyoci exited
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{init}/ns/pid")
    os.write(master, b"xyz\n")
    read_until(master, b"got-xyz")
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == 0
    os.close(master)
    assert runtime.state(cid)["status"] == "running"


def test_exec_tty_console_socket_shim_style(orphans, runtime, bundle, console, tmp_path):
    """ctr task exec -t: --process, --console-socket, --detach, --pid-file; consoleSize applied."""
    cid, _ = _running(runtime, bundle)
    s = console()
    proc = {"terminal": True, "consoleSize": {"height": 17, "width": 61}, "user": {"uid": 0, "gid": 0,
            "additionalGids": [10]}, "args": ["sh", "-c", "stty size; id -G; sleep 0.2"],
            "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True,
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}}
    (tmp_path / "runc-process1").write_text(json.dumps(proc))
    p = runtime("exec", "--process", str(tmp_path / "runc-process1"), "--console-socket", s.path, "--detach",
                "--pid-file", str(tmp_path / "e.pid"), cid)
    assert p.returncode == 0, p.stderr
    master = s.master()
    out = read_until(master, b"17 61\r\n")
    out = read_until(master, b"10", buf=bytearray(out))
    assert b"0 10" in out
    os.close(master)


def test_exec_tty_foreground_through_a_pty(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = PtyProcess(_pyoci(runtime, "exec", "-t", cid, "sh"), rows=40, cols=100)
    try:
        p.expect(PROMPT)
        p.send(b"stty size; tty; echo $$\r")
        out = p.expect(b"40 100\r\n")
        p.expect(b"/dev/pts/")
        p.send(b"exit 5\r")
        assert p.wait() == 5
    finally:
        p.close()
    assert b"\r\n" in out
    assert runtime.state(cid)["status"] == "running"


def test_exec_tty_piped_stdin(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", "-t", cid, "cat", input=b"line\n", timeout=30)
    assert p.returncode == 0, p.stderr
    assert b"line\r\nline\r\n" in p.stdout


def test_exec_tty_detach_needs_console_socket(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", "-d", "-t", cid, "true")
    assert p.returncode == 255
    assert b"exec failed: cannot allocate tty if pyoci will detach without setting console socket" in p.stderr


def test_exec_console_socket_needs_tty_and_detach(runtime, bundle, console):
    cid, _ = _running(runtime, bundle)
    s = console()
    for args in (["-d", "--console-socket", s.path], ["-t", "--console-socket", s.path]):
        p = runtime("exec", *args, cid, "true")
        assert p.returncode == 255, args
        assert b"cannot use console socket if pyoci will not detach or allocate tty" in p.stderr
    s.check()
    assert s.masters == []


def test_no_terminal_leaks_into_exec_without_tty(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", cid, "sh", "-c", "tty")
    assert p.returncode == 1 and p.stdout == b"not a tty\n"
