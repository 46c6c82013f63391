"""Process, pty, cgroup and mount helpers for the client tests (no client knowledge here)."""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time

from ..conftest import wait_for  # noqa: F401  (one polling helper for every suite)
from pathlib import Path

TIMEOUT = 60  # seconds, for any one client command: the suite must stay bounded

PR_SET_CHILD_SUBREAPER = 36


def run(argv: list[str], *, env: dict | None = None, input: str | None = None,
        timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run a client command to completion; stdin is /dev/null unless `input` is given."""
    return subprocess.run(argv, env=env, input=input, text=True, errors="replace",
                          stdin=None if input is not None else subprocess.DEVNULL,
                          capture_output=True, timeout=timeout)


def show(p: subprocess.CompletedProcess) -> str:
    return (f"$ {' '.join(map(str, p.args))}\nexit {p.returncode}\n"
            f"--- stdout\n{p.stdout}--- stderr\n{p.stderr}")


def check(p: subprocess.CompletedProcess, rc: int = 0) -> subprocess.CompletedProcess:
    assert p.returncode == rc, f"expected exit {rc}\n{show(p)}"
    return p


# --- terminals -------------------------------------------------------------------------------

def run_pty(argv: list[str], *, env: dict, steps: tuple[tuple[str, str], ...] = (),
            timeout: float = 30) -> tuple[int, str]:
    """Run `argv` with a new pty as its controlling terminal and stdin/stdout/stderr.

    `steps` is a dialogue: for each (regex, text), wait until the output so far matches regex
    (searched after the previous match), then type text. Returns (exit status, all output).
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def make_ctty() -> None:  # runs in the child after setsid(): take the pty as ctty
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, preexec_fn=make_ctty, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout

    def pump(until) -> bool:
        nonlocal out
        while time.monotonic() < deadline:
            if until():
                return True
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every slave fd is closed
                    chunk = b""
                if not chunk:
                    return until()
                out += chunk
            elif proc.poll() is not None and not ready:
                # exited and nothing more to read right now; one last short look
                if not select.select([master], [], [], 0.2)[0]:
                    return until()
        return False

    try:
        pos = 0
        for pattern, text in steps:
            rx = re.compile(pattern.encode())
            found = {}

            def matched() -> bool:
                m = rx.search(out, pos)
                if m:
                    found["end"] = m.end()
                return bool(m)

            if not pump(matched):
                raise AssertionError(f"{argv}: no {pattern!r} in terminal output {out!r}")
            pos = found["end"]
            os.write(master, text.encode())
        pump(lambda: False)  # read until the process exited and the output is drained
        try:
            rc = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"{argv}: still running after {timeout}s; output {out!r}")
    finally:
        os.close(master)
    return rc, out.decode(errors="replace").replace("\r\n", "\n")


# --- cgroups ---------------------------------------------------------------------------------

def _cgroup_mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of every cgroup/cgroup2 mount of this process."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.rstrip("\n").split(" - ", 1)
            fstype, _source, opts = right.split(" ", 2)
            if fstype in ("cgroup", "cgroup2"):
                mounts.append((left.split(" ")[4], fstype, set(opts.split(","))))
    return mounts


def cgroup_dir(pid: int, controller: str) -> Path:
    """The host directory of `controller` for `pid` (v1 hierarchy if any, else the v2 one)."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    mounts = _cgroup_mounts()
    for line in lines:
        _hid, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            for mnt, fstype, opts in mounts:
                if fstype == "cgroup" and controller in opts:
                    return Path(mnt + path)
    for line in lines:
        hid, ctrls, path = line.split(":", 2)
        if hid == "0" and ctrls == "":
            for mnt, fstype, _opts in mounts:
                if fstype == "cgroup2":
                    return Path(mnt + path)
    raise AssertionError(f"no {controller} cgroup for pid {pid}: {lines}")


def cgroup_procs(pid: int, controller: str = "freezer") -> set[int]:
    return {int(x) for x in (cgroup_dir(pid, controller) / "cgroup.procs").read_text().split()}


def assert_frozen_then_thawed(pid: int, pause, resume) -> None:
    """Around pause()/resume(): the freezer reports frozen, then not; and a container whose
    shell loop forks `sleep 0.1` all the time stops forking while paused, and forks again after."""
    d = cgroup_dir(pid, "freezer")

    def frozen() -> bool:
        if is_v1(d):
            return (d / "freezer.state").read_text().strip() == "FROZEN"
        return (d / "cgroup.freeze").read_text().strip() == "1"

    assert not frozen()
    pause()
    assert frozen(), f"{d} is not frozen after pause"
    before = cgroup_procs(pid)
    time.sleep(0.5)
    assert cgroup_procs(pid) == before, "processes came and went in a paused container"
    resume()
    assert not frozen(), f"{d} is still frozen after resume"
    wait_for(lambda: cgroup_procs(pid) != before, timeout=5, what="the resumed loop to fork")


def is_v1(controller_dir: Path) -> bool:
    return not (controller_dir / "cgroup.controllers").exists()


def cgroup_dirs_named(name: str) -> list[str]:
    """Every directory called `name` up to 3 levels under each cgroup mount (leak audit)."""
    found = []
    for mnt, _fstype, _opts in _cgroup_mounts():
        for dirpath, dirnames, _ in os.walk(mnt):
            if name in dirnames:
                found.append(os.path.join(dirpath, name))
            if dirpath.count("/") - mnt.count("/") >= 2:
                dirnames[:] = []
    return found


def scrub_cgroups(dirs: list[str]) -> None:
    """After a leak was reported: SIGKILL what is left in these cgroups and remove them, so one
    broken runtime call does not break the rest of the session (or the next one)."""
    for d in dirs:
        try:
            for pid in Path(d, "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), 9)
                except ProcessLookupError:
                    pass
        except OSError:
            pass
    for d in sorted(dirs, key=len, reverse=True):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)  # EBUSY until the killed tasks are gone


def cap_eff(status_text: str) -> int:
    m = re.search(r"^CapEff:\s*([0-9a-f]+)$", status_text, re.MULTILINE)
    assert m, f"no CapEff in {status_text!r}"
    return int(m.group(1), 16)


# --- subreaper, orphans, mounts --------------------------------------------------------------

def become_subreaper(on: bool = True) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def children() -> list[tuple[int, str, str]]:
    """(pid, state, comm) of this process's children, from /proc."""
    me, out = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2:].split(" ", 2)[:2]
        if int(ppid) == me:
            out.append((int(entry), state, comm))
    return out


def reap_zombies(protect: set[int]) -> list[tuple[int, str]]:
    """Reap our zombie children, except `protect` (children a Popen object still owns).

    Only called between tests, when no subprocess.run() is in flight, so it cannot steal an
    exit status that subprocess is waiting for.
    """
    reaped = []
    for pid, state, comm in children():
        if state == "Z" and pid not in protect:
            try:
                os.waitpid(pid, os.WNOHANG)
                reaped.append((pid, comm))
            except ChildProcessError:
                pass
    return reaped


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split(" ")[4] for line in f]
    return [p for p in points if p.startswith(prefix) or p == str(path)]


def unmount_all_under(path: Path) -> list[str]:
    """Unmount whatever is still mounted under `path`, deepest first; returns what was left."""
    for _ in range(3):
        left = mounts_under(path)
        if not left:
            return []
        for mnt in sorted(left, key=len, reverse=True):
            subprocess.run(["umount", mnt], capture_output=True)
    left = mounts_under(path)
    for mnt in sorted(left, key=len, reverse=True):  # last resort, still only our own mounts
        subprocess.run(["umount", "-l", mnt], capture_output=True)
    return left
