"""bundles.busybox: the rootfs it lays out, the config it writes, and that runc (the reference
runtime, so a pyoci bug cannot hide a builder bug) runs what it builds."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from bundles import busybox
from bundles.busybox import BusyboxError, make_bundle, make_rootfs, shared_rootfs
from tests.conftest import REPO

RUNC = shutil.which("runc")
NOBODY = {"user": {"uid": 65534, "gid": 65534}}


class Runc:
    """`runc --root <per-test dir>` with unique ids, force-deleted at teardown."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ids: list[str] = []

    def run(self, bundle: Path, timeout: float = 60) -> subprocess.CompletedProcess:
        cid = f"bb-{uuid.uuid4().hex[:12]}"
        self.ids.append(cid)
        return subprocess.run([RUNC, "--root", str(self.root), "run", "-b", str(bundle), cid],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def cleanup(self) -> None:
        for cid in self.ids:
            subprocess.run([RUNC, "--root", str(self.root), "delete", "--force", cid],
                           capture_output=True, timeout=60, check=False)


@pytest.fixture
def runc(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root: runs real containers")
    if RUNC is None:
        pytest.skip("runc is not installed")
    r = Runc(tmp_path / "runc-state")
    yield r
    r.cleanup()
    left = sorted(p.name for p in r.root.iterdir()) if r.root.exists() else []
    assert left == [], f"runc state left behind: {left}"


# --- under runc -------------------------------------------------------------------------------

def test_echo_runs_under_runc(runc: Runc, tmp_path: Path) -> None:
    p = runc.run(make_bundle(tmp_path / "b", ["echo", "hello", "from busybox"]))
    assert (p.returncode, p.stdout, p.stderr) == (0, "hello from busybox\n", "")


def test_exit_status_under_runc(runc: Runc, tmp_path: Path) -> None:
    p = runc.run(make_bundle(tmp_path / "b", ["sh", "-c", "exit 3"]))
    assert p.returncode == 3


def test_nobody_from_etc_passwd(runc: Runc, tmp_path: Path) -> None:
    b = make_bundle(tmp_path / "b", ["sh", "-c", "id -u; id -un; id -g; id -gn"], process=NOBODY)
    p = runc.run(b)
    assert (p.returncode, p.stdout.split()) == (0, ["65534", "nobody", "65534", "nogroup"])


def test_root_names_and_private_writable_rootfs(runc: Runc, tmp_path: Path) -> None:
    script = "id -un; id -gn; touch /made-here && echo wrote; stat -c %a /tmp /root; cat /etc/hosts"
    b = make_bundle(tmp_path / "b", ["sh", "-c", script])
    p = runc.run(b)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[:5] == ["root", "root", "wrote", "1777", "700"]
    assert "127.0.0.1\tlocalhost" in p.stdout
    assert (b / "rootfs/made-here").exists()


def test_every_applet_link_resolves_inside_the_container(runc: Runc, tmp_path: Path) -> None:
    script = ('n=0; for a in $(busybox --list-full); do [ -x "/$a" ] || echo "broken /$a"; n=$((n+1)); done; '
              'echo "checked $n"; env | grep -c ^PATH=')
    p = runc.run(make_bundle(tmp_path / "b", ["sh", "-c", script]))
    assert p.returncode == 0, p.stderr
    assert "broken" not in p.stdout
    n = len(subprocess.run([busybox.BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout.split())
    assert p.stdout.split("\n")[:2] == [f"checked {n}", "1"]


def test_shared_rootfs_is_readonly_by_default(runc: Runc, tmp_path: Path) -> None:
    shared = make_rootfs(tmp_path / "shared")
    before = sorted(os.listdir(shared))
    a = make_bundle(tmp_path / "a", ["sh", "-c", "touch /x"], rootfs=shared)
    b = make_bundle(tmp_path / "b", ["cat", "/etc/hostname"], rootfs=shared)
    p = runc.run(a)
    assert p.returncode != 0 and "Read-only file system" in p.stderr
    p = runc.run(b)
    assert (p.returncode, p.stdout) == (0, "busybox\n")
    assert sorted(os.listdir(shared)) == before
    assert not (a / "rootfs").exists()


def test_config_edits_reach_the_container(runc: Runc, tmp_path: Path) -> None:
    b = make_bundle(tmp_path / "b", ["sh", "-c", "hostname; pwd; echo $FOO"],
                    hostname="edited", process={"cwd": "/tmp", "env": ["PATH=/bin:/usr/bin", "FOO=bar"]})
    p = runc.run(b)
    assert (p.returncode, p.stdout.split()) == (0, ["edited", "/tmp", "bar"])


def test_writes_through_an_applet_link_stay_in_their_bundle(runc: Runc, tmp_path: Path) -> None:
    # Applet links are shared inodes (hardlinked symlinks); what they point at must not be.
    # (Writing the running busybox is ETXTBSY; chmod through the link reaches it too.)
    a = make_bundle(tmp_path / "a", ["sh", "-c", "chmod 700 /usr/bin/env && rm /bin/ls && echo > /bin/ls"])
    b = make_bundle(tmp_path / "b", ["ls", "/etc/hostname"])
    p = runc.run(a)
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE((a / "rootfs/bin/busybox").stat().st_mode) == 0o700
    assert stat.S_IMODE((b / "rootfs/bin/busybox").stat().st_mode) == 0o755
    p = runc.run(b)
    assert (p.returncode, p.stdout) == (0, "/etc/hostname\n")
    assert (b / "rootfs/bin/ls").is_symlink()
    assert make_bundle(tmp_path / "c", ["true"]) and (tmp_path / "c/rootfs/bin/ls").is_symlink()


# --- the rootfs and config.json, no container -------------------------------------------------

def test_rootfs_layout(tmp_path: Path) -> None:
    root = make_rootfs(tmp_path / "r")
    bb = root / "bin/busybox"
    st, host = bb.lstat(), os.stat(busybox.BUSYBOX)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755
    assert st.st_nlink == 1 and st.st_ino != host.st_ino and st.st_size == host.st_size
    assert busybox._elf_interpreter(str(bb)) is None
    applets = subprocess.run([busybox.BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    for rel in applets:
        if rel == "bin/busybox":
            continue
        link = root / rel
        target = os.readlink(link)
        assert not target.startswith("/"), rel
        assert os.path.normpath(os.path.join(os.path.dirname(rel), target)) == "bin/busybox", rel
    modes = {d: stat.S_IMODE((root / d).stat().st_mode) for d in ("proc", "sys", "dev", "tmp", "etc", "root",
                                                                   "run", "var")}
    assert modes == {"proc": 0o755, "sys": 0o755, "dev": 0o755, "tmp": 0o1777, "etc": 0o755,
                     "root": 0o700, "run": 0o755, "var": 0o755}
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    assert passwd["root"][2:4] == ["0", "0"] and passwd["nobody"][2:4] == ["65534", "65534"]
    group = {line.split(":")[0]: line.split(":")[2] for line in (root / "etc/group").read_text().splitlines()}
    assert group["root"] == "0" and group["nogroup"] == "65534" and group["nobody"] == "65534"
    assert (root / "etc/hostname").read_text().strip() and "localhost" in (root / "etc/hosts").read_text()


def test_applet_links_are_shared_symlink_inodes(tmp_path: Path) -> None:
    make_rootfs(tmp_path / "first")  # the first rootfs of a process has plain symlinks
    a, b = make_rootfs(tmp_path / "a"), make_rootfs(tmp_path / "b")
    sa, sb = (a / "usr/bin/env").lstat(), (b / "usr/bin/env").lstat()
    assert stat.S_ISLNK(sa.st_mode) and sa.st_ino == sb.st_ino  # one inode, hardlinked
    assert (a / "bin/busybox").stat().st_ino != (b / "bin/busybox").stat().st_ino
    assert (a / "etc/passwd").stat().st_ino != (b / "etc/passwd").stat().st_ino


def test_applet_links_without_the_link_source(tmp_path: Path) -> None:
    make_rootfs(tmp_path / "warm1")
    make_rootfs(tmp_path / "warm2")
    dev = os.stat(tmp_path).st_dev
    src = busybox._link_sources.get(dev)
    if src is None:
        pytest.skip("no link source on this filesystem")
    shutil.rmtree(src)  # gone mid-process: plain symlinks, then a new source next time
    r = make_rootfs(tmp_path / "r")
    assert (r / "usr/bin/env").lstat().st_nlink == 1 and os.readlink(r / "usr/bin/env") == "../../bin/busybox"
    r2 = make_rootfs(tmp_path / "r2")
    assert busybox._link_sources[dev] != src and (r2 / "usr/bin/env").lstat().st_nlink == 2


def test_rootfs_on_another_filesystem(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tempfile.gettempdir()).st_dev:
        pytest.skip("no second filesystem")
    dest = shm / f"pyoci-test-{uuid.uuid4().hex[:8]}"
    try:
        r = make_rootfs(dest)
        assert os.readlink(r / "bin/sh") == "busybox" and (r / "bin/sh").resolve() == r / "bin/busybox"
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_the_static_check_refuses_a_dynamic_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dynamic = "/usr/bin/env"  # coreutils, dynamically linked on Debian
    if busybox._elf_interpreter(dynamic) is None:
        pytest.skip(f"{dynamic} is static here")
    monkeypatch.setattr(busybox, "BUSYBOX", dynamic)
    monkeypatch.setattr(busybox, "_links", None)
    with pytest.raises(BusyboxError, match="dynamically linked"):
        make_rootfs(tmp_path / "r")


def test_make_bundle_config(tmp_path: Path) -> None:
    from ociruntime.specgen import default_spec

    b = make_bundle(tmp_path / "b", ["echo", "hi"])
    cfg = json.loads((b / "config.json").read_text())
    expected = default_spec(args=["echo", "hi"], terminal=False)
    expected["root"]["readonly"] = False
    assert cfg == expected
    tty = json.loads((make_bundle(tmp_path / "t", terminal=True) / "config.json").read_text())
    assert tty["process"]["terminal"] is True and tty["process"]["args"] == ["sh"]
    ro = json.loads((make_bundle(tmp_path / "ro", ["true"], readonly=True) / "config.json").read_text())
    assert ro["root"] == {"path": "rootfs", "readonly": True}


def test_make_bundle_edits(tmp_path: Path) -> None:
    from ociruntime.specgen import default_spec

    caps = {"bounding": ["CAP_KILL"]}
    calls = []

    def edit(cfg: dict) -> dict:
        calls.append(cfg["process"]["user"])
        cfg["mounts"].pop()
        return {"bogus": True}  # ignored: edits are in place

    b = make_bundle(tmp_path / "b", ["true"], process={"user": {"uid": 7}, "capabilities": caps},
                    hostname=None, annotations={"a": "b"}, edit=edit)
    cfg = json.loads((b / "config.json").read_text())
    assert cfg["process"]["user"] == {"uid": 7, "gid": 0}          # dicts merge key by key
    default_caps = default_spec()["process"]["capabilities"]
    assert cfg["process"]["capabilities"] == {**default_caps, "bounding": ["CAP_KILL"]}  # lists replace
    assert "hostname" not in cfg                                   # None deletes
    assert cfg["annotations"] == {"a": "b"}                         # new keys added
    assert calls == [{"uid": 7, "gid": 0}] and cfg["mounts"][-1]["destination"] == "/sys"
    assert "bogus" not in cfg
    assert caps == {"bounding": ["CAP_KILL"]}


def test_make_bundle_refusals(tmp_path: Path) -> None:
    b = make_bundle(tmp_path / "b", ["true"])
    with pytest.raises(FileExistsError):
        make_bundle(b, ["true"])
    with pytest.raises(TypeError):
        make_bundle(tmp_path / "s", "echo hi")
    with pytest.raises(FileNotFoundError):
        make_bundle(tmp_path / "n", ["true"], rootfs=tmp_path / "no-rootfs")
    (tmp_path / "full").mkdir()
    (tmp_path / "full/file").write_text("x")
    with pytest.raises(FileExistsError):
        make_rootfs(tmp_path / "full")


def test_shared_rootfs_path_is_absolute_in_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_rootfs("rel-rootfs")
    b = make_bundle("b", ["true"], rootfs="rel-rootfs")
    cfg = json.loads((b / "config.json").read_text())
    assert cfg["root"] == {"path": str(tmp_path / "rel-rootfs"), "readonly": True}
    assert shared_rootfs() == shared_rootfs() and (shared_rootfs() / "bin/busybox").is_file()


# --- the command line and the README's demo ---------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bundles.busybox", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)


def test_cli(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    dest.mkdir()  # like install.sh's mktemp -d: an existing empty dir is fine
    p = _cli(str(dest), "--terminal", "--", "sh", "-c", "exit 3")
    assert (p.returncode, p.stdout, p.stderr) == (0, f"{dest}\n", "")
    cfg = json.loads((dest / "config.json").read_text())
    assert cfg["process"]["args"] == ["sh", "-c", "exit 3"] and cfg["process"]["terminal"] is True
    p = _cli("--rootfs-only", str(tmp_path / "r"))
    assert p.returncode == 0 and (tmp_path / "r/bin/sh").is_symlink()
    assert not (tmp_path / "r/config.json").exists()
    p = _cli(str(tmp_path / "s"), "--rootfs", str(tmp_path / "r"))
    cfg = json.loads((tmp_path / "s/config.json").read_text())
    assert p.returncode == 0 and cfg["root"] == {"path": str(tmp_path / "r"), "readonly": True}
    assert cfg["process"]["args"] == ["sh"] and cfg["process"]["terminal"] is False
    p = _cli(str(dest))
    assert p.returncode == 1 and "already holds a bundle" in p.stderr


def test_readme_demo_with_pyoci(runtime, tmp_path: Path) -> None:
    p = _cli(str(tmp_path / "demo"), "--", "echo", "hello")
    assert p.returncode == 0
    r = runtime("run", "--bundle", p.stdout.strip(), runtime.new_id("demo"))
    assert (r.returncode, r.stdout) == (0, b"hello\n"), r.stderr


# --- cost -------------------------------------------------------------------------------------

