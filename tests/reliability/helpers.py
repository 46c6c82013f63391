"""Shared by the reliability suite: running pyoci, judging what it printed, and auditing the host.

Every pyoci process this suite starts carries PYOCI_RELIABILITY_TAG=<tag> in its environment;
the container's init inherits it until its execve, and the user's process after execve lives in
a cgroup named after the container id. `Audit.leaks()` looks for both, and for state dirs,
host mounts and cgroup directories, so a single call answers "did this case leave anything?".
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.conftest import PYOCI, _cgroup_dirs

TAG_ENV = "PYOCI_RELIABILITY_TAG"


class Result:
    __slots__ = ("argv", "err", "out", "rc", "seconds")

    def __init__(self, argv: list[str], rc: int, out: bytes, err: bytes, seconds: float) -> None:
        self.argv, self.rc, self.out, self.err, self.seconds = argv, rc, out, err, seconds

    @property
    def text(self) -> str:
        return self.err.decode(errors="replace")

    def __repr__(self) -> str:
        return f"<pyoci {self.argv[1:]!r} rc={self.rc} stderr={self.text!r}>"


def pyoci(root: str | os.PathLike, *args: str, tag: str = "", timeout: float = 60, pass_fds=(),
          env: dict | None = None, prefix: tuple[str, ...] = ()) -> Result:
    """Run `pyoci --root ROOT ARGS...`. stdout/stderr go to files, not pipes: a created
    container's init inherits them and would keep a pipe open after pyoci exits."""
    argv = [*prefix, PYOCI, "--root", str(root), *args]
    e = dict(os.environ if env is None else env)
    if tag:
        e[TAG_ENV] = tag
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.run(argv, check=False, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout,
                           env=e, pass_fds=pass_fds)
        dt = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return Result(argv, p.returncode, out.read(), err.read(), dt)


def crashed(r: Result) -> bool:
    """A Python traceback or the CLI's last-resort handler: a bug, whatever the exit status."""
    t = r.text
    return "Traceback" in t or "internal error" in t


def assert_no_crash(r: Result) -> None:
    assert not crashed(r), f"crash: {r!r}"


def assert_one_line_error(r: Result) -> None:
    """The contract for a refused command: non-zero exit, exactly one non-empty stderr line."""
    assert_no_crash(r)
    assert r.rc != 0, f"expected a failure: {r!r}"
    lines = r.err.decode(errors="replace").rstrip("\n").split("\n")   # \n only: \x85 is not a line break here
    assert len(lines) == 1 and lines[0].strip(), f"expected one error line: {r!r}"


def new_tag() -> str:
    return "rel" + uuid.uuid4().hex[:10]


def _tagged_pids(tag: str, ids: set[str]) -> list[str]:
    """Live (non-zombie) processes carrying `tag` in their environment, or in a cgroup named
    after one of `ids`: the runtime, stage 1, init before execve, and the container's processes."""
    needle = f"{TAG_ENV}={tag}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rindex(b")") + 2:][:1] in (b"Z", b"X"):
                continue
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in f.read():
                    found.append(f"{name} (tagged)")
                    continue
            if ids:
                with open(f"/proc/{name}/cgroup") as f:
                    cg = f.read()
                hit = [i for i in ids if f"/{i}\n" in cg or f"/{i}/" in cg]
                if hit:
                    found.append(f"{name} (cgroup of {hit[0]})")
        except (OSError, ValueError):
            continue
    return found


def mount_points_under(scope: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if scope in line.split()[4]]


class Audit:
    """Everything a test's containers could leave on the host, scoped to one test."""

    def __init__(self, root: str | os.PathLike, scope: str | os.PathLike, tag: str) -> None:
        self.root, self.scope, self.tag = Path(root), str(scope), tag

    def state_dirs(self) -> list[str]:
        try:
            return sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []

    def leaks(self, ids: set[str] | list[str] = (), processes: bool = True) -> list[str]:
        ids = set(ids)
        out = []
        left = self.state_dirs()
        if left:
            out.append(f"state dirs: {left}")
        mnts = mount_points_under(self.scope)
        if mnts:
            out.append(f"mounts: {mnts}")
        cgs = _cgroup_dirs(ids) if ids else []
        if cgs:
            out.append(f"cgroups: {cgs}")
        if processes:
            procs = _tagged_pids(self.tag, ids)
            if procs:
                out.append(f"processes: {procs}")
        return out

    def settle(self, ids=(), timeout: float = 5.0) -> list[str]:
        """leaks(), allowing a moment for processes that are already on their way out
        (stage 1 and init notice a dead runtime on their next read or write)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.leaks(ids)
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
