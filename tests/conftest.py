"""Shared fixtures: a per-test --root, busybox bundles, a pyoci runner, and a cleanup audit.

Every test that starts containers gets its own state root and unique ids; at teardown the
runner force-deletes whatever is left and the audit fails the test if anything leaked: a
state dir, a host mount, or a cgroup named after one of its containers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PYOCI = os.environ.get("PYOCI") or shutil.which("pyoci") or "/usr/local/bin/pyoci"
IS_ROOT = os.geteuid() == 0

needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root: runs real containers")


def _mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def _cgroup_dirs(names: set[str]) -> list[str]:
    found = []
    for top in Path("/sys/fs/cgroup").iterdir():
        for dirpath, dirnames, _ in os.walk(top):
            for d in dirnames:
                if d in names:
                    found.append(os.path.join(dirpath, d))
            if dirpath.count("/") > 7:
                dirnames[:] = []
    return found


class Runtime:
    """Runs `pyoci --root <per-test root> ...` and remembers every container id it was given."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.root, self.tmp = root, tmp
        self.ids: set[str] = set()
        self.binary = PYOCI

    def new_id(self, prefix: str = "t") -> str:
        cid = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.ids.add(cid)
        return cid

    def __call__(self, *args: str, globals_: tuple[str, ...] = (), input: bytes | None = None,
                 timeout: float = 60, check: bool = False, **kw) -> subprocess.CompletedProcess:
        cmd = [self.binary, "--root", str(self.root), *globals_, *args]
        # Files, not pipes: a created container's init inherits the runtime's stdio, so a pipe
        # would not reach EOF when `create` exits (the same holds for runc).
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(cmd, input=input, stdout=out, stderr=err, timeout=timeout, **kw)
            out.seek(0)
            err.seek(0)
            p.stdout, p.stderr = out.read(), err.read()
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
        return p

    def state(self, cid: str) -> dict:
        p = self("state", cid, check=True)
        return json.loads(p.stdout)

    def cleanup(self) -> None:
        for cid in sorted(self.ids):
            subprocess.run([self.binary, "--root", str(self.root), "delete", "--force", cid],
                           capture_output=True, timeout=60)


@pytest.fixture
def runtime(tmp_path: Path):
    if not IS_ROOT:
        pytest.skip("needs root: runs real containers")
    root = tmp_path / "state"
    before = set(_mounts())
    rt = Runtime(root, tmp_path)
    yield rt
    rt.cleanup()
    leaks = []
    if root.exists() and any(root.iterdir()):
        leaks.append(f"state dirs left in {root}: {sorted(p.name for p in root.iterdir())}")
    # Only what this test could have leaked: other suites (podman, containerd) may be mounting
    # things concurrently on this machine.
    new_mounts = [m for m in set(_mounts()) - before if str(tmp_path) in m or "/run/pyoci" in m]
    if new_mounts:
        leaks.append(f"host mounts left: {new_mounts}")
    cgs = _cgroup_dirs(rt.ids) if rt.ids else []
    if cgs:
        leaks.append(f"cgroups left: {cgs}")
    assert not leaks, "; ".join(leaks)


class BundleFactory:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.n = 0

    def __call__(self, args=("true",), edit=None, terminal: bool = False) -> Path:
        from bundles.busybox import make_bundle

        self.n += 1
        dest = self.tmp / f"bundle{self.n}"
        make_bundle(dest, args=tuple(args), terminal=terminal)
        if edit is not None:
            cfg_path = dest / "config.json"
            cfg = json.loads(cfg_path.read_text())
            result = edit(cfg)
            cfg_path.write_text(json.dumps(result if result is not None else cfg, indent=2))
        return dest


@pytest.fixture
def bundle(tmp_path: Path) -> BundleFactory:
    return BundleFactory(tmp_path)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = ""):
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)
