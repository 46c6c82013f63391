"""Known container escapes, each tried for real against pyoci, each expected to fail.

- CVE-2019-5736 class: the runtime's own binary (the host's Python) executed or opened from
  inside the container, directly (/proc/self/exe), through a symlink or a #! line, or through
  /proc/<init>/exe from a second container in the same pid namespace while init is still Python;
- CVE-2021-30465 class: a mount destination that is a symlink out of the rootfs, statically and
  swapped back and forth by a racing process while containers are created;
- CVE-2024-21626 class: a host fd leaked into init, reached as process.cwd or as args[0] through
  /proc/self/fd/N;
- CVE-2025-31133 class: /dev/null (the source of every mask) or a maskedPaths entry replaced by a
  symlink, statically and by a racer;
- CVE-2025-52565/52881 class: writes of the runtime to /proc redirected by a bind mount in
  config.json or by a rootfs whose /proc is a symlink or a plain directory with fake files;
- container ids and bundle paths with `..`, `/` or NUL; a console socket that is not a socket.

Racers run on the host as a separate process and only touch the bundle's rootfs, which is what
a second container sharing that rootfs (or a volume) could do from inside.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.helpers import assert_no_crash, assert_one_line_error, pyoci

RACE_CREATES = 25


def _exec_landed() -> bool:
    import importlib.util

    return importlib.util.find_spec("ociruntime.cli.exec") is not None


def _host_python_libs(rootfs: Path) -> None:
    """Put the host interpreter's loader and libraries in the rootfs: were the interpreter ever
    executed in the container, it would really start (and say so), not fail for want of ld.so."""
    out = subprocess.run(["ldd", os.path.realpath(sys.executable)], check=False, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        src = parts[2] if "=>" in parts and len(parts) > 2 else (parts[0] if parts and parts[0].startswith("/") else None)
        if src and os.path.exists(src):
            dst = rootfs / src.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                shutil.copy(src, dst)


PYTHON_SIGNS = ("Python", "platform independent libraries", "encodings", "ESCAPED")


# --- CVE-2019-5736: the runtime's binary ------------------------------------------------------------

def _exe_case(name: str):
    def plain(rootfs):
        return ["/proc/self/exe", "-c", "print('ESCAPED')"]

    def init_exe(rootfs):
        return ["/proc/1/exe", "-c", "print('ESCAPED')"]

    def thread_self(rootfs):
        return ["/proc/thread-self/exe", "-c", "print('ESCAPED')"]

    def symlink(rootfs):
        os.symlink("/proc/self/exe", rootfs / "bin" / "evil")
        return ["evil", "-c", "print('ESCAPED')"]

    def shebang(rootfs):
        (rootfs / "bin" / "evil.sh").write_text("#!/proc/self/exe\nprint('ESCAPED')\n")
        os.chmod(rootfs / "bin" / "evil.sh", 0o755)
        return ["/bin/evil.sh"]

    def sh_replaced(rootfs):
        os.unlink(rootfs / "bin" / "sh")
        os.symlink("/proc/self/exe", rootfs / "bin" / "sh")
        return ["sh", "-c", "print('ESCAPED')"]

    return {"plain": plain, "init_exe": init_exe, "thread_self": thread_self, "symlink": symlink,
            "shebang": shebang, "sh_replaced": sh_replaced}[name]


@pytest.mark.parametrize("case", ["plain", "init_exe", "thread_self", "symlink", "shebang", "sh_replaced"])
def test_runtime_binary_is_never_executed_in_the_container(runtime, bundle, audit, tag, case):
    b = bundle(["true"])
    rootfs = b / "rootfs"
    _host_python_libs(rootfs)
    args = _exe_case(case)(rootfs)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["args"] = args
    (b / "config.json").write_text(json.dumps(cfg))
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
    text = r.text + r.out.decode(errors="replace")
    assert not any(s in text for s in PYTHON_SIGNS), f"the host's Python ran in the container: {r!r} {r.out!r}"
    assert_one_line_error(r)
    assert "permission denied" in r.text, r
    assert not audit.settle({cid})


@pytest.mark.skipif(not _exec_landed(), reason="pyoci exec has not landed yet")
@pytest.mark.parametrize("target", ["/proc/self/exe", "/proc/1/exe"])
def test_exec_never_runs_the_runtime_binary(runtime, bundle, audit, tag, target):
    b = bundle(["sleep", "300"])
    _host_python_libs(b / "rootfs")
    cid = runtime.new_id()
    assert pyoci(runtime.root, "run", "--detach", "--bundle", str(b), cid, tag=tag).rc == 0
    r = pyoci(runtime.root, "exec", cid, target, "-c", "print('ESCAPED')", tag=tag)
    text = r.text + r.out.decode(errors="replace")
    assert r.rc != 0 and not any(s in text for s in PYTHON_SIGNS), r
    assert pyoci(runtime.root, "delete", "--force", cid).rc == 0
    assert not audit.settle({cid})


ATTACK = r"""
comm=$(cat /proc/1/comm)
echo "COMM $comm"
readlink /proc/1/exe >/dev/null 2>&1 && echo "OPEN-OK readlink exe"
cat /proc/1/exe >/dev/null 2>&1 && echo "OPEN-OK read exe"
( exec 3>>/proc/1/exe ) 2>/dev/null && echo "OPEN-OK write exe"
for f in /proc/1/fd/*; do readlink $f >/dev/null 2>&1 && echo "OPEN-OK fd $f"; done
ls /proc/1/root/ >/dev/null 2>&1 && echo "OPEN-OK root"
ls /proc/1/cwd/ >/dev/null 2>&1 && echo "OPEN-OK cwd"
cat /proc/1/environ >/dev/null 2>&1 && echo "OPEN-OK environ"
cat /proc/1/maps >/dev/null 2>&1 && echo "OPEN-OK maps"
[ -n "$(ls /proc/1/map_files/ 2>/dev/null)" ] && echo "OPEN-OK map_files"
echo DONE
"""


@pytest.mark.parametrize("caps", ["default", "ptrace"])
def test_init_binary_is_out_of_reach_of_a_neighbour_before_start(runtime, bundle, audit, tag, caps):
    """Container A is created, not started: its init is the runtime's Python, pid 1 of its pid
    namespace. Container B joins that pid namespace and tries every /proc/1 handle on A's init.
    init made itself non-dumpable first thing, so all are refused; with CAP_SYS_PTRACE (a
    privileged neighbour) the exe becomes readable, but never writable: it is running."""
    a = bundle(["sleep", "300"])
    ida = runtime.new_id()
    assert pyoci(runtime.root, "create", "--bundle", str(a), ida, tag=tag).rc == 0
    pid = runtime.state(ida)["pid"]

    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"] + \
            [{"type": "pid", "path": f"/proc/{pid}/ns/pid"}]
        if caps == "ptrace":
            for s in ("bounding", "effective", "permitted"):
                c["process"]["capabilities"][s].append("CAP_SYS_PTRACE")
    bb = bundle(["sh", "-c", ATTACK], edit=edit)
    idb = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(bb), idb, tag=tag)
    out = r.out.decode()
    assert r.rc == 0 and "DONE" in out, r
    assert "COMM pyoci:[2:INIT]" in out, out          # pid 1 really is A's init, still Python
    hits = [line for line in out.splitlines() if line.startswith("OPEN-OK")]
    if caps == "default":
        assert hits == [], hits
    else:
        assert "OPEN-OK write exe" not in hits, hits
    assert pyoci(runtime.root, "delete", "--force", ida).rc == 0
    assert not audit.settle({ida, idb})


@pytest.mark.skipif(not _exec_landed(), reason="pyoci exec has not landed yet")
def test_exec_process_is_out_of_reach_while_it_is_the_runtime(runtime, bundle, audit, tag):
    """While `pyoci exec` is Python inside the container's namespaces, a container process
    scanning /proc for it must not be able to open its exe (CVE-2019-5736 was exactly this)."""
    # Whatever it finds, it keeps only an exe that is the host's Python (the exec'd `true` is fair game).
    scan = ("while [ ! -e /tmp/stop ]; do for p in /proc/[0-9]*; do "
            "n=$(cat $p/comm 2>/dev/null); case \"$n\" in pyoci*) echo \"SEEN $n\" >> /tmp/seen; "
            "t=$(readlink $p/exe 2>/dev/null) && case \"$t\" in *python*) echo \"OPEN-OK $p $t\" >> /tmp/hits;; "
            "esac;; esac; done; done")
    b = bundle(["sh", "-c", scan])
    cid = runtime.new_id()
    assert pyoci(runtime.root, "run", "--detach", "--bundle", str(b), cid, tag=tag).rc == 0
    for _ in range(15):
        r = pyoci(runtime.root, "exec", cid, "true", tag=tag)
        assert r.rc == 0, r
    (b / "rootfs" / "tmp" / "stop").write_text("")
    hits = (b / "rootfs" / "tmp" / "hits")
    assert not hits.exists(), hits.read_text()
    assert "pyoci" in (b / "rootfs" / "tmp" / "seen").read_text()      # it did catch exec in the act
    assert pyoci(runtime.root, "delete", "--force", cid).rc == 0
    assert not audit.settle({cid})


# --- CVE-2021-30465: mount destinations through symlinks -----------------------------------------------

def _markers_inside(pid: int) -> set[str]:
    """Names of MARKER-* files the container can see under its own root: a mount that landed
    outside the rootfs would not be among them."""
    root = f"/proc/{pid}/root"
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = dirpath[len(root):]
        if rel.count("/") > 14 or rel in ("/proc", "/sys", "/dev"):
            dirnames[:] = []
            continue
        found.update(f for f in filenames if f.startswith("MARKER-"))
    return found


def _marked_dir(tmp: Path, name: str) -> Path:
    d = tmp / name
    d.mkdir()
    (d / f"MARKER-{name}").write_text(name)
    return d


@pytest.mark.parametrize("pivot", ["pivot", "no-pivot"])
@pytest.mark.parametrize("link", ["absolute", "relative", "dotdot-dir"])
def test_symlinked_destination_stays_in_rootfs(runtime, bundle, audit, tag, link, pivot):
    tmp = Path(runtime.tmp)
    victim = tmp / "victim"
    victim.mkdir()
    src = _marked_dir(tmp, "y")

    def edit(c):
        c["mounts"] += [{"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"},
                        {"destination": "/evil/y", "type": "bind", "source": str(src), "options": ["rbind"]}]
    b = bundle(["sleep", "300"], edit=edit)
    target = {"absolute": str(victim), "relative": "../" * 12 + str(victim).lstrip("/"),
              "dotdot-dir": "/.." * 12 + str(victim)}[link]
    os.symlink(target, b / "rootfs" / "evil")
    cid = runtime.new_id()
    extra = ("--no-pivot",) if pivot == "no-pivot" else ()
    r = pyoci(runtime.root, "create", *extra, "--bundle", str(b), cid, tag=tag)
    assert r.rc == 0, r
    assert _markers_inside(runtime.state(cid)["pid"]) == {"MARKER-y"}
    assert list(victim.iterdir()) == []
    assert (b / "rootfs" / str(victim).lstrip("/") / "y").is_dir()      # the mount point, in the rootfs
    assert pyoci(runtime.root, "delete", "--force", cid).rc == 0
    assert not audit.settle({cid})


RACER = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
n = 0
while not os.path.exists(sys.argv[3]):
    libc.renameat2(-100, a, -100, b, 2)   # RENAME_EXCHANGE
    n += 1
open(sys.argv[3] + ".count", "w").write(str(n))
"""


class Racer:
    """Swaps two names in the rootfs (renameat2 RENAME_EXCHANGE) as fast as it can."""

    def __init__(self, tmp: Path, a: Path, b: Path) -> None:
        self.stop = tmp / "racer.stop"
        self.p = subprocess.Popen([sys.executable, "-c", RACER, str(a), str(b), str(self.stop)])

    def pause(self) -> None:
        # While we look inside a container: walking a directory the racer swaps for a symlink
        # would follow the host's view of the link.
        os.kill(self.p.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.p.pid, signal.SIGCONT)

    def finish(self) -> int:
        self.resume()
        self.stop.write_text("")
        self.p.wait(30)
        return int(Path(str(self.stop) + ".count").read_text())


def test_destination_swapped_during_setup(runtime, bundle, audit, tag, figures):
    """A racer swaps rootfs/race/d between a directory and a symlink to a host directory while
    containers whose mounts go to /race/d and /race/d/x are created: every mount must be
    visible inside the container (so it landed in the rootfs), the host directory untouched."""
    tmp = Path(runtime.tmp)
    victim = tmp / "victim"
    victim.mkdir()
    src_d, src_x = _marked_dir(tmp, "d"), _marked_dir(tmp, "x")

    def edit(c):
        c["mounts"] += [{"destination": "/race/d", "type": "bind", "source": str(src_d), "options": ["rbind"]},
                        {"destination": "/race/d/x", "type": "bind", "source": str(src_x), "options": ["rbind"]},
                        {"destination": "/race/d/z", "type": "tmpfs", "source": "tmpfs"}]
    b = bundle(["sleep", "300"], edit=edit)
    race = b / "rootfs" / "race"
    race.mkdir()
    (race / "d").mkdir()
    os.symlink(str(victim), race / "l")
    racer = Racer(tmp, race / "d", race / "l")
    outcomes = {"created": 0, "refused": 0}
    try:
        for i in range(RACE_CREATES):
            cid = runtime.new_id("rc")
            r = pyoci(runtime.root, "create", *(("--no-pivot",) if i % 2 else ()), "--bundle", str(b), cid, tag=tag)
            assert_no_crash(r)
            if r.rc == 0:
                outcomes["created"] += 1
                racer.pause()
                try:
                    assert _markers_inside(runtime.state(cid)["pid"]) == {"MARKER-d", "MARKER-x"}
                finally:
                    racer.resume()
                assert pyoci(runtime.root, "delete", "--force", cid).rc == 0
            else:
                outcomes["refused"] += 1
                assert_one_line_error(r)
            assert list(victim.iterdir()) == [], list(victim.iterdir())
            assert not audit.settle({cid})
    finally:
        swaps = racer.finish()
    figures["race_mount_creates"] = RACE_CREATES
    figures["race_mount_swaps"] = swaps
    figures.update({f"race_mount_{k}": v for k, v in outcomes.items()})
    assert swaps > RACE_CREATES


# --- CVE-2024-21626: leaked fds as cwd or executable ------------------------------------------------------

def _leaking(path: Path, *fds: int) -> tuple[str, ...]:
    """A command prefix that opens `path` at each of `fds` (without O_CLOEXEC) and then runs
    pyoci: a caller leaking host fds into the runtime (bash, for fd numbers above 9)."""
    opens = " ".join(f'{n}<"$0"' for n in fds)
    return ("bash", "-c", f'exec {opens}; exec "$@"', str(path))


@pytest.mark.parametrize("cwd", [f"/proc/self/fd/{n}" for n in (*range(3, 11), 57)] +
                         ["/proc/self/cwd", "/proc/1/cwd", "/proc/self/root/../..", "/proc/thread-self/fd/7"])
def test_leaked_fd_as_cwd_stays_inside(runtime, bundle, audit, tag, cwd):
    secret = Path(runtime.tmp) / "hostdir"
    secret.mkdir()
    (secret / "HOST-SECRET").write_text("s")
    b = bundle(["sh", "-c", "pwd; ls -a; ls -a ..; ls -a ../../.."],
               edit=lambda c: c["process"].update(cwd=cwd))
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag, prefix=_leaking(secret, 7, 8, 57))
    assert b"HOST-SECRET" not in r.out, r.out
    assert_no_crash(r)
    if r.rc != 0:
        assert_one_line_error(r)
    assert not audit.settle({cid})


def _tiny_elf(message: bytes = b"ESCAPED\n") -> bytes:
    """A static x86-64 executable that writes `message` and exits 0, whatever its argv: proof
    that it ran (a host busybox run as /proc/self/fd/7 would only say "7: applet not found")."""
    import struct

    code = (b"\xb8\x01\x00\x00\x00" b"\xbf\x01\x00\x00\x00" b"\x48\x8d\x35\x10\x00\x00\x00"
            + b"\xba" + struct.pack("<I", len(message)) + b"\x0f\x05" b"\xb8\x3c\x00\x00\x00" b"\x31\xff"
            b"\x0f\x05") + message
    base, size = 0x400000, 64 + 56 + len(code)
    ehdr = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, base + 120, 64, 0, 0,
                                                                 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return ehdr + phdr + code


needs_x86_64 = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the test payload is an x86-64 ELF")


def test_tiny_elf_runs(tmp_path):
    """The payload of the leaked-fd test really runs when executed directly: that test can fail."""
    if os.uname().machine != "x86_64":
        pytest.skip("x86-64 payload")
    p = tmp_path / "tool"
    p.write_bytes(_tiny_elf())
    p.chmod(0o755)
    assert subprocess.run([str(p)], check=False, capture_output=True).stdout == b"ESCAPED\n"


@needs_x86_64
@pytest.mark.parametrize("how", ["direct", "symlink", "thread-self", "shebang"])
def test_leaked_fd_as_executable_is_refused(runtime, bundle, audit, tag, how):
    """A host executable leaked into init as fd 7 must not be executable from the container as
    /proc/self/fd/7: its process would hold a host binary as /proc/self/exe."""
    hostonly = Path(runtime.tmp) / "host-only"
    hostonly.mkdir()
    (hostonly / "tool").write_bytes(_tiny_elf())
    (hostonly / "tool").chmod(0o755)
    arg0 = {"direct": "/proc/self/fd/7", "symlink": "leak", "thread-self": "/proc/thread-self/fd/7",
            "shebang": "/bin/leak.sh"}[how]
    b = bundle([arg0])
    if how == "symlink":
        os.symlink("/proc/self/fd/7", b / "rootfs" / "bin" / "leak")
    if how == "shebang":
        (b / "rootfs" / "bin" / "leak.sh").write_text("#!/proc/self/fd/7\n")
        (b / "rootfs" / "bin" / "leak.sh").chmod(0o755)
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag, prefix=_leaking(hostonly / "tool", 7))
    assert b"ESCAPED" not in r.out, f"a host binary ran in the container: {r!r}"
    assert_one_line_error(r)
    assert not audit.settle({cid})


def test_only_stdio_and_preserved_fds_reach_the_process(runtime, bundle, audit, tag):
    secret = Path(runtime.tmp) / "hostdir"
    secret.mkdir()
    (secret / "HOST-MARK").write_text("m")
    b = bundle(["sh", "-c", "ls /proc/self/fd/3/ /proc/self/fd/7/ 2>/dev/null; exit 0"])
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag, prefix=_leaking(secret, 3, 7))
    cid2 = runtime.new_id()
    r2 = pyoci(runtime.root, "run", "--preserve-fds", "1", "--bundle", str(b), cid2, tag=tag,
               prefix=_leaking(secret, 3, 7))
    assert r.rc == 0 and b"HOST-MARK" not in r.out, r          # neither leaked fd reaches the process
    assert r2.rc == 0 and r2.out.count(b"HOST-MARK") == 1, r2  # fd 3 preserved, as asked; 7 not
    assert not audit.settle({cid, cid2})


# --- CVE-2025-31133: /dev/null and masked paths replaced by symlinks ---------------------------------------

MASK_CHECK = "stat -c '%n %F %t:%T' /proc/kcore /proc/timer_list /proc/keys 2>&1; exit 0"


def _no_dev_tmpfs(c):
    # /dev comes from the rootfs itself, where a racer can reach /dev/null.
    c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/dev", "/dev/pts", "/dev/shm", "/dev/mqueue")]


def _masks_ok(out: str) -> bool:
    lines = [x for x in out.splitlines() if x.startswith("/proc/")]
    return bool(lines) and all(x.endswith("character special file 1:3") or "No such file" in x for x in lines)


def test_dev_null_symlink_in_rootfs(runtime, bundle, audit, tag):
    b = bundle(["sh", "-c", MASK_CHECK], edit=_no_dev_tmpfs)
    os.symlink("/proc/sys/kernel/core_pattern", b / "rootfs" / "dev" / "null")
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
    assert_no_crash(r)
    if r.rc == 0:
        assert _masks_ok(r.out.decode()), r.out
    else:
        assert_one_line_error(r)
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before
    assert not audit.settle({cid})


def test_dev_null_swapped_during_setup(runtime, bundle, audit, tag, figures):
    b = bundle(["sh", "-c", MASK_CHECK], edit=_no_dev_tmpfs)
    dev = b / "rootfs" / "dev"
    os.mknod(dev / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.symlink("/proc/sys/kernel/core_pattern", dev / "evil")
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    racer = Racer(Path(runtime.tmp), dev / "null", dev / "evil")
    outcomes = {"created": 0, "refused": 0}
    try:
        for _ in range(RACE_CREATES):
            cid = runtime.new_id("rn")
            r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
            assert_no_crash(r)
            if r.rc == 0:
                outcomes["created"] += 1
                assert _masks_ok(r.out.decode()), r.out
            else:
                outcomes["refused"] += 1
                assert_one_line_error(r)
            assert not audit.settle({cid})
    finally:
        swaps = racer.finish()
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before
    figures["race_devnull_creates"] = RACE_CREATES
    figures["race_devnull_swaps"] = swaps
    figures.update({f"race_devnull_{k}": v for k, v in outcomes.items()})
    assert swaps > RACE_CREATES


@pytest.mark.parametrize("target", ["host-file", "proc-file"])
def test_masked_path_that_is_a_symlink(runtime, bundle, audit, tag, target):
    victim = Path(runtime.tmp) / "victim.txt"
    victim.write_text("host data\n")
    link = {"host-file": "/.." * 12 + str(victim), "proc-file": "/proc/sys/kernel/hostname"}[target]
    b = bundle(["sh", "-c", "cat /etc/mlink; echo x > /etc/mlink; cat /etc/mlink; echo END"],
               edit=lambda c: c["linux"]["maskedPaths"].append("/etc/mlink"))
    os.symlink(link, b / "rootfs" / "etc" / "mlink")
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
    assert_no_crash(r)
    assert b"host data" not in r.out, r.out
    assert victim.read_text() == "host data\n"
    assert not audit.settle({cid})


# --- CVE-2025-52565/52881: the runtime's /proc writes redirected ------------------------------------------------

@pytest.mark.parametrize("dest", ["/proc/sys/kernel/hostname", "/proc/self/oom_score_adj", "/proc/self/attr/exec",
                                  "/proc/sysrq-trigger", "/proc/self", "/proc/1/oom_score_adj"])
def test_bind_mount_over_procfs_is_refused(runtime, bundle, audit, tag, dest):
    victim = Path(runtime.tmp) / "victim"
    if dest == "/proc/self":
        victim.mkdir()
    else:
        victim.write_text("untouched")

    def edit(c):
        c["process"]["oomScoreAdj"] = 123
        c["mounts"].append({"destination": dest, "type": "bind", "source": str(victim), "options": ["bind"]})
    b = bundle(["true"], edit=edit)
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
    assert_one_line_error(r)
    assert "mounts[7]" in r.text and "/proc" in r.text, r
    if dest != "/proc/self":
        assert victim.read_text() == "untouched"
    assert not audit.settle({cid})


def test_symlink_destination_into_procfs_is_refused(runtime, bundle, audit, tag):
    victim = Path(runtime.tmp) / "victim"
    victim.write_text("untouched")
    b = bundle(["true"], edit=lambda c: c["mounts"].append(
        {"destination": "/evil/hostname", "type": "bind", "source": str(victim), "options": ["bind"]}))
    os.symlink("/proc/sys/kernel", b / "rootfs" / "evil")
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
    assert_one_line_error(r)
    assert "mounts[7]" in r.text, r
    assert not audit.settle({cid})


def test_lxcfs_style_proc_bind_is_still_allowed(runtime, bundle, audit, tag):
    """The control: runc's allow-list (lxcfs files such as /proc/uptime) keeps working."""
    fake = Path(runtime.tmp) / "uptime"
    fake.write_text("12345.67 0.00\n")
    b = bundle(["cat", "/proc/uptime"], edit=lambda c: c["mounts"].append(
        {"destination": "/proc/uptime", "type": "bind", "source": str(fake), "options": ["bind", "ro"]}))
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
    assert r.rc == 0 and r.out == b"12345.67 0.00\n", r
    assert not audit.settle({cid})


def test_fake_proc_files_in_rootfs_get_no_writes(runtime, bundle, audit, tag):
    """No proc mount: the rootfs's own /proc/self/oom_score_adj is a plain file. The runtime must
    set oomScoreAdj on the process, not write the file."""
    def edit(c):
        c["process"]["oomScoreAdj"] = 321
        c["mounts"] = [m for m in c["mounts"] if m["type"] != "proc"]
        c["linux"]["maskedPaths"] = []
        c["linux"]["readonlyPaths"] = []
    b = bundle(["sleep", "300"], edit=edit)
    fake = b / "rootfs" / "proc" / "self"
    fake.mkdir(parents=True)
    (fake / "oom_score_adj").write_text("fake\n")
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--detach", "--bundle", str(b), cid, tag=tag)
    assert r.rc == 0, r
    pid = runtime.state(cid)["pid"]
    assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "321"
    assert (fake / "oom_score_adj").read_text() == "fake\n"
    assert pyoci(runtime.root, "delete", "--force", cid).rc == 0
    assert not audit.settle({cid})


@pytest.mark.parametrize("kind", ["proc", "sysfs"])
def test_proc_or_sys_through_a_symlink_is_refused(runtime, bundle, audit, tag, kind):
    """runc: `filesystem "proc" must be mounted on ordinary directory`. A /proc that is a symlink
    (to a directory a neighbour can later swap for fake files) is refused."""
    def edit(c):
        c["process"]["oomScoreAdj"] = 100
    b = bundle(["true"], edit=edit)
    d = "proc" if kind == "proc" else "sys"
    os.rmdir(b / "rootfs" / d)
    (b / "rootfs" / "fake").mkdir()
    os.symlink("/fake", b / "rootfs" / d)
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
    assert_one_line_error(r)
    assert "ordinary directory" in r.text, r
    assert not audit.settle({cid})


# --- ids and bundle paths -------------------------------------------------------------------------------------

BAD_IDS = ["..", ".", "../victim", "victim/..", "a/b", "/abs", "", " ", "x" * 1025, "a b", "a\nb", "ü", "id\t",
           "../../../../../../tmp/victim", "./c", "c/", "*", "?", "a:b", "a@b", "[c]"]


@pytest.mark.parametrize("cid", BAD_IDS, ids=range(len(BAD_IDS)))
def test_bad_container_id_is_refused_and_touches_nothing(runtime, bundle, audit, tag, cid):
    b = bundle(["true"])
    victim = Path(runtime.tmp) / "victim"
    victim.mkdir()
    (victim / "keep").write_text("x")
    r = pyoci(runtime.root, "create", "--bundle", str(b), "--", cid, tag=tag)
    assert_one_line_error(r)
    assert "invalid container id" in r.text, r
    for cmd in (("state", cid), ("kill", cid, "KILL"), ("delete", cid), ("start", cid), ("pause", cid)):
        r = pyoci(runtime.root, cmd[0], "--", *cmd[1:], tag=tag)
        assert_one_line_error(r)
    # delete --force of an id that cannot exist succeeds, as runc does, and removes nothing.
    r = pyoci(runtime.root, "delete", "--force", "--", cid, tag=tag)
    assert r.rc == 0 and not r.text, r
    assert (victim / "keep").read_text() == "x"
    assert sorted(p.name for p in Path(runtime.tmp).iterdir() if p.name != "state") == ["bundle1", "victim"]
    assert not audit.settle()


def test_bundle_paths_with_dotdot(runtime, bundle, audit, tag):
    """`..` in a bundle path is ordinary path syntax: it resolves, and the state records the
    normalised bundle; a bundle that is not a directory with a config.json is refused."""
    b = bundle(["true"])
    cid = runtime.new_id()
    odd = str(b) + "/../" + b.name + "/./"
    r = pyoci(runtime.root, "create", "--bundle", odd, cid, tag=tag)
    assert r.rc == 0, r
    assert runtime.state(cid)["bundle"] == str(b)
    assert pyoci(runtime.root, "delete", "--force", cid).rc == 0
    for bad in (str(b) + "/../nope", str(b) + "/rootfs/../../nope", "/" + "../" * 30 + "nope", str(b / "config.json")):
        cid = runtime.new_id()
        r = pyoci(runtime.root, "create", "--bundle", bad, cid, tag=tag)
        assert_one_line_error(r)
    assert not audit.settle(runtime.ids)


NUL_ARGVS = [["create", "--bundle", "{b}", "a\0b"], ["create", "--bundle", "{b}\0x", "nul1"],
             ["--root", "{root}\0x", "create", "--bundle", "{b}", "nul2"],
             ["create", "--bundle", "{b}", "--pid-file", "{tmp}/p\0id", "nul3"],
             ["create", "--bundle", "{b}", "--console-socket", "{tmp}/s\0", "nul4"],
             ["--log", "{tmp}/log\0x", "state", "nul5"], ["state", "a\0b"], ["kill", "nul6", "SIG\0KILL"],
             ["delete", "--force", "a\0b"], ["run", "--bundle", "{b}", "nul7\0"], ["spec", "--bundle", "{tmp}\0"]]


@pytest.mark.parametrize("argv_", NUL_ARGVS, ids=range(len(NUL_ARGVS)))
def test_nul_in_arguments(runtime, bundle, audit, capfd, argv_):
    """execve cannot carry a NUL, but the CLI entry point can be called with one (ociruntime.cli.main
    is the console script's function): one error line, nothing created, nothing reached the kernel
    truncated."""
    from ociruntime import log
    from ociruntime.cli import main

    b = bundle(["true"])
    fmt = {"b": str(b), "root": str(runtime.root), "tmp": str(runtime.tmp)}
    args = ["--root", str(runtime.root)] + [a.format(**fmt) for a in argv_]
    try:
        rc = main(args)
    finally:
        log.configure(None, "text", False)
    _out, err = capfd.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "NUL" in err, (rc, err)
    assert not audit.settle()
    assert sorted(p.name for p in Path(runtime.tmp).iterdir()) == ["bundle1"]


# --- the console socket -----------------------------------------------------------------------------------------

def _console_target(tmp: Path, kind: str) -> str:
    p = tmp / "console"
    if kind == "file":
        p.write_text("x")
    elif kind == "dir":
        p.mkdir()
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "dangling":
        os.symlink(tmp / "nowhere", p)
    elif kind == "link-to-file":
        (tmp / "f").write_text("x")
        os.symlink(tmp / "f", p)
    elif kind == "dgram":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(str(p))
        _keep.append(s)
    elif kind == "not-listening":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(p))
        _keep.append(s)
    elif kind == "too-long":
        d = tmp / ("d" * 100)
        d.mkdir()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        p = d / "console"
        os.chdir(d)
        try:
            s.bind("console")
            s.listen(1)
        finally:
            os.chdir(tmp)
        _keep.append(s)
    elif kind == "trailing-slash":
        p.write_text("x")
        return str(p) + "/"
    return str(p)


_keep: list[socket.socket] = []


@pytest.mark.parametrize("kind", ["file", "dir", "fifo", "missing", "dangling", "link-to-file", "dgram",
                                  "not-listening", "too-long", "trailing-slash"])
def test_console_socket_that_is_not_a_usable_socket(runtime, bundle, audit, tag, kind):
    b = bundle(["true"], terminal=True)
    path = _console_target(Path(runtime.tmp), kind)
    cid = runtime.new_id()
    try:
        r = pyoci(runtime.root, "create", "--console-socket", path, "--bundle", str(b), cid, tag=tag, timeout=30)
    finally:
        while _keep:
            _keep.pop().close()
    assert_one_line_error(r)
    assert "console" in r.text, r
    assert r.seconds < 10, r
    assert not audit.settle({cid})
