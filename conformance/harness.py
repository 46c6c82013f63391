"""The case registry and the per-case context: the runtime's CLI, bundles, ids and cleanup.

A case is a function taking a `Ctx`. It drives the runtime only through its command line
(create/start/state/kill/delete/run) with a per-case `--root`, unique ids, and reads what it
needs from the container's output or from the host's /proc. Every container a case made is
`delete --force`d when the case ends, whatever happened.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from . import bundle as bundles
from . import host

MUST, SHOULD = "MUST", "SHOULD"
RUNTIMES = ("pyoci", "runc", "crun")


class Fail(Exception):
    """The runtime does not meet the requirement; the message is the one-line diagnostic."""


class Skip(Exception):
    """The requirement cannot be checked here (missing kernel feature, host layout...)."""


class Case:
    __slots__ = ("fn", "id", "level", "notes", "quote", "section", "spec", "title")

    def __init__(self, id, spec, section, level, title, quote, fn, notes):
        self.id, self.spec, self.section, self.level = id, spec, section, level
        self.title, self.quote, self.fn, self.notes = title, quote, fn, notes

    @property
    def name(self) -> str:
        return f"{self.spec}/{self.section}: {self.title} [{self.level}]"


CASES: list[Case] = []


def case(id: str, spec: str, section: str, level: str, title: str, quote: str,
         notes: dict[str, str] | None = None):
    """Register a case. `quote` is the spec sentence checked; `notes` says, per runtime, where a
    known runtime disagrees with the spec (shown in the --compare table)."""
    assert level in (MUST, SHOULD), level

    def deco(fn):
        assert all(c.id != id for c in CASES), id
        CASES.append(Case(id, spec, section, level, title, " ".join(quote.split()), fn, notes or {}))
        return fn
    return deco


class Result:
    __slots__ = ("argv", "err", "out", "rc")

    def __init__(self, rc: int, out: str, err: str, argv: list[str]) -> None:
        self.rc, self.out, self.err, self.argv = rc, out, err, argv

    def brief(self) -> str:
        msg = (self.err.strip() or self.out.strip()).splitlines()
        return f"`{' '.join(self.argv[-3:])}` exited {self.rc}" + (f": {msg[-1][:200]}" if msg else "")


class Runtime:
    def __init__(self, name: str, argv: list[str]) -> None:
        self.name, self.argv = name, argv


def resolve_runtime(spec: str) -> Runtime | None:
    """`pyoci|runc|crun` by name on PATH, or a path to any runtime binary."""
    if os.sep in spec:
        path = os.path.abspath(spec)
        return Runtime(os.path.basename(path), [path]) if os.access(path, os.X_OK) else None
    path = shutil.which(spec)
    if path is None and spec == "pyoci" and os.access("/opt/pyoci/bin/pyoci", os.X_OK):
        path = "/opt/pyoci/bin/pyoci"
    return Runtime(spec, [path]) if path else None


_libc = None


def become_subreaper() -> None:
    """Containers outlive `create`; as a subreaper the suite inherits and reaps them, the way
    conmon and containerd-shim do, so a stopped container is never a zombie of a non-reaping init."""
    global _libc
    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap() -> None:
    """Reap exited orphans. Runtime commands run synchronously, so none of ours is pending here."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


_ids = itertools.count(1)


class Ctx:
    """What a case works with. Paths are in a fresh 0755 temp dir removed afterwards."""

    def __init__(self, rt: Runtime, case: Case, workdir: str) -> None:
        self.rt, self.case = rt, case
        self.dir = tempfile.mkdtemp(prefix=f"{case.id}-", dir=workdir)
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "state")
        self.ids: list[str] = []
        self.helpers: list[subprocess.Popen] = []
        self.diag: list[str] = []
        self._n = 0

    # ----- bundles -----
    def bundle(self, args=("true",), name: str | None = None, config: dict | None = None) -> str:
        """Make a bundle dir with a fresh busybox rootfs; returns its path. `config` overrides the
        base config (write it again with `write_config` after changing it)."""
        self._n += 1
        path = os.path.join(self.dir, name or f"bundle{self._n}")
        os.makedirs(path)
        bundles.make_rootfs(os.path.join(path, "rootfs"))
        self.write_config(path, config if config is not None else bundles.base_config(args))
        return path

    def config(self, args=("true",)) -> dict:
        return bundles.base_config(args)

    @staticmethod
    def write_config(path: str, cfg: dict) -> None:
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)

    def hostdir(self, name: str, mode: int = 0o777) -> str:
        """A directory on the host, e.g. to bind-mount into the container for its output."""
        path = os.path.join(self.dir, name)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        return path

    def new_id(self) -> str:
        cid = f"cf{os.getpid()}-{next(_ids)}-{self.case.id}"[:60]
        self.ids.append(cid)
        return cid

    # ----- the runtime's CLI -----
    def cli(self, *args: str, timeout: float = 20, stdin: str | None = None,
            stdio_to: str | None = None, preexec=None, pass_fds: tuple[int, ...] = ()) -> Result:
        """Run `runtime --root ROOT args...`. Output goes to files, never pipes: a container that
        inherits the runtime's stdio must not keep the suite waiting for EOF."""
        reap()
        argv = [*self.rt.argv, "--root", self.root, *args]
        base = stdio_to or os.path.join(self.dir, f"cli{next(_ids)}")
        with open(base + ".out", "w+") as out, open(base + ".err", "w+") as err:
            fin = subprocess.DEVNULL
            if stdin is not None:
                fin = open(base + ".in", "w+")  # noqa: SIM115  (closed in the finally below)
                fin.write(stdin)
                fin.seek(0)
            try:
                # preexec: a few cases set what the runtime inherits (umask, oom_score_adj); the
                # suite is single-threaded, so preexec_fn's thread hazard does not apply.
                p = subprocess.Popen(argv, stdin=fin, stdout=out, stderr=err, cwd=self.dir,
                                     start_new_session=True, preexec_fn=preexec,  # noqa: PLW1509
                                     pass_fds=pass_fds)
                try:
                    rc = p.wait(timeout)
                except subprocess.TimeoutExpired:
                    _kill_group(p.pid)
                    p.wait()
                    raise Fail(f"`{' '.join(argv[len(self.rt.argv):])}` timed out after {timeout}s")
            finally:
                if fin is not subprocess.DEVNULL:
                    fin.close()
            out.seek(0)
            err.seek(0)
            return Result(rc, out.read(), err.read(), argv)

    def create(self, bundle: str, cid: str | None = None, ok: bool = True, **kw) -> str | Result:
        """`create`; with ok=True a failure fails the case and the id is returned."""
        cid = cid or self.new_id()
        stdio = os.path.join(self.dir, f"{cid}.create")
        r = self.cli("create", "--bundle", bundle, cid, stdio_to=stdio, **kw)
        if not ok:
            return r
        if r.rc != 0:
            raise Fail("create failed: " + r.brief())
        return cid

    def start(self, cid: str, ok: bool = True) -> Result:
        r = self.cli("start", cid)
        if ok and r.rc != 0:
            raise Fail("start failed: " + r.brief())
        return r

    def state(self, cid: str) -> dict:
        r = self.cli("state", cid)
        if r.rc != 0:
            raise Fail("state failed: " + r.brief())
        try:
            st = json.loads(r.out)
        except ValueError:
            raise Fail(f"state printed no JSON: {r.out[:200]!r}")
        if not isinstance(st, dict):
            raise Fail(f"state printed {type(st).__name__}, not an object")
        return st

    def kill(self, cid: str, sig: str = "KILL", ok: bool = True) -> Result:
        r = self.cli("kill", cid, sig)
        if ok and r.rc != 0:
            raise Fail(f"kill {sig} failed: " + r.brief())
        return r

    def delete(self, cid: str, force: bool = False, ok: bool = True) -> Result:
        r = self.cli("delete", *(["--force"] if force else []), cid)
        if ok and r.rc != 0:
            raise Fail("delete failed: " + r.brief())
        return r

    def run(self, bundle: str, stdin: str | None = None, timeout: float = 20, preexec=None,
            pass_fds: tuple[int, ...] = ()) -> Result:
        """Foreground `run`: the container's stdout/stderr are the Result's."""
        cid = self.new_id()
        return self.cli("run", "--bundle", bundle, cid, stdin=stdin, timeout=timeout, preexec=preexec,
                        pass_fds=pass_fds)

    def sh(self, script: str, cfg: dict | None = None, stdin: str | None = None, preexec=None) -> str:
        """Run `sh -c script` in a container made from `cfg` (base config if None); its stdout,
        or Fail with the runtime's error if it did not exit 0."""
        if cfg is None:
            cfg = self.config()
        cfg["process"]["args"] = ["sh", "-c", script]
        r = self.run(self.bundle(config=cfg), stdin=stdin, preexec=preexec)
        if r.rc != 0:
            raise Fail("container did not exit 0: " + r.brief())
        return r.out

    def control(self, cfg: dict) -> None:
        """A negative case's positive control: `cfg` (the case's config without its invalid value,
        running `true`, in the runtime's default cgroup) must run, or the case proves nothing: a
        runtime that fails everything would "generate the error" too."""
        good = json.loads(json.dumps(cfg))
        good.setdefault("process", {})["args"] = ["true"]
        good.get("linux", {}).pop("cgroupsPath", None)
        r = self.run(self.bundle(config=good))
        if r.rc != 0:
            raise Fail("control: the same config without the invalid value fails too: " + r.brief())

    def status(self, cid: str) -> str:
        return self.state(cid).get("status", "<none>")

    def wait_status(self, cid: str, want: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            st = self.status(cid)
            if st == want or time.monotonic() > deadline:
                return st
            time.sleep(0.02)

    def wait_file(self, path: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # ----- helpers processes (namespace holders) -----
    def helper(self, argv: list[str]) -> subprocess.Popen:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        self.helpers.append(p)
        return p

    # ----- verdicts -----
    @staticmethod
    def expect(cond: bool, msg: str) -> None:
        if not cond:
            raise Fail(msg)

    @staticmethod
    def skip(msg: str) -> None:
        raise Skip(msg)

    def note(self, msg: str) -> None:
        self.diag.append(msg)

    # ----- cleanup -----
    def cleanup(self) -> None:
        for cid in self.ids:
            try:
                self.cli("delete", "--force", cid, timeout=15)
            except Fail:
                pass
        for p in self.helpers:
            _kill_group(p.pid)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        reap()
        for cid in self.ids:  # cgroups a runtime left behind (e.g. after a failed create)
            for d in host.cgroup_dirs(cid):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        _umount_under(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _umount_under(path: str) -> None:
    """Detach mounts a runtime leaked under our temp dir, so rmtree never walks into them."""
    try:
        with open("/proc/self/mountinfo") as f:
            mounts = host.mountinfo(f.read())
    except OSError:
        return
    libc = _libc or ctypes.CDLL(None, use_errno=True)
    for m in sorted(mounts, key=lambda m: -len(m.target)):
        if m.target == path or m.target.startswith(path + "/"):
            libc.umount2(m.target.encode(), 2)  # MNT_DETACH
