"""File descriptors (issue 5 item 3): --preserve-fds, LISTEN_FDS socket activation, and no leaks,
for exec and run. Each test starts pyoci from a shell that opens the fds it hands over, so the
test's own fds stay out of it; the container lists /proc/self/fd itself."""

from __future__ import annotations

import shlex
import subprocess

import pytest


def _running(runtime, bundle) -> str:
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(bundle(["sleep", "300"])), cid, check=True)
    return cid


def _via_shell(runtime, prelude: str, *args: str, env_prefix: str = "") -> subprocess.CompletedProcess:
    """sh -c '<prelude>; exec [env] pyoci --root R args...' (the shell's pid becomes pyoci's)."""
    argv = " ".join(shlex.quote(a) for a in (runtime.binary, "--root", str(runtime.root), *args))
    return subprocess.run(["sh", "-c", f"{prelude}; {env_prefix} exec {argv}"], check=False, capture_output=True, timeout=60)


def _fds(out: bytes) -> list[int]:
    """The fd numbers in `ls /proc/self/fd` output (ls itself holds one directory fd: 3 if free)."""
    return sorted(int(x) for x in out.split() if x.isdigit())


LS = "echo $(ls /proc/self/fd)"


# --- exec ---------------------------------------------------------------------------------------

def test_exec_leaks_nothing(runtime, bundle, tmp_path):
    cid = _running(runtime, bundle)
    f = tmp_path / "secret"
    f.write_text("host file\n")
    # conmon leaves fds 3 and 4 (_OCI_SYNCPIPE/_OCI_STARTPIPE) open and inheritable; the shim an fd 3.
    p = _via_shell(runtime, f"exec 3<{f} 4<{f} 9<{f}", "exec", cid, "sh", "-c", LS)
    assert p.returncode == 0, p.stderr
    assert _fds(p.stdout) == [0, 1, 2, 3]     # 3 is ls's own directory


def test_exec_preserve_fds(runtime, bundle, tmp_path):
    cid = _running(runtime, bundle)
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("from fd 3\n")
    b.write_text("from fd 4\n")
    p = _via_shell(runtime, f"exec 3<{a} 4<{b} 5<{a}", "exec", "--preserve-fds", "2", cid, "sh", "-c",
                   f"cat <&3; cat <&4; {LS}")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[:2] == ["from fd 3", "from fd 4"]
    assert _fds(lines[2].encode()) == [0, 1, 2, 3, 4, 5]     # 5: ls; the caller's 5 did not get in


def test_exec_preserve_fds_not_open(runtime, bundle):
    cid = _running(runtime, bundle)
    p = _via_shell(runtime, "true", "exec", "--preserve-fds", "2", cid, "true")
    assert p.returncode == 255
    assert b"exec failed: unable to stat preserved-fd 0 (of 2)" in p.stderr


def test_exec_preserve_fds_beyond_the_limit(runtime, bundle):
    cid = _running(runtime, bundle)
    p = runtime("exec", "--preserve-fds", "100000000000", cid, "true", timeout=20)
    assert p.returncode != 0 and b"preserve-fds" in p.stderr


def test_exec_listen_fds(runtime, bundle, tmp_path):
    cid = _running(runtime, bundle)
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("sock3\n")
    b.write_text("sock4\n")
    # LISTEN_PID is the shell's pid, which pyoci keeps through exec: the fds are meant for pyoci.
    p = _via_shell(runtime, f"exec 3<{a} 4<{b} 5<{a} 6<{a}", "exec", "--preserve-fds", "1", cid, "sh", "-c",
                   f'echo "$LISTEN_FDS $LISTEN_PID $$"; cat <&3; cat <&4; cat <&5; {LS}',
                   env_prefix="LISTEN_FDS=2 LISTEN_PID=$$")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    n, listen_pid, pid = lines[0].split()
    assert n == "2" and listen_pid == pid        # fixed to the new process's pid (in its namespace)
    assert lines[1:4] == ["sock3", "sock4", "sock3"]   # 3-4 activation sockets, then 5 preserved
    assert _fds(lines[4].encode()) == [0, 1, 2, 3, 4, 5, 6]    # 6: ls


def test_exec_listen_fds_for_someone_else(runtime, bundle, tmp_path):
    cid = _running(runtime, bundle)
    a = tmp_path / "a"
    a.write_text("x\n")
    p = _via_shell(runtime, f"exec 3<{a}", "exec", cid, "sh", "-c", f'echo "[$LISTEN_FDS]"; {LS}',
                   env_prefix="LISTEN_FDS=1 LISTEN_PID=1")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[0] == "[]"
    assert _fds(lines[1].encode()) == [0, 1, 2, 3]


def test_exec_terminal_leaks_nothing(runtime, bundle, tmp_path):
    cid = _running(runtime, bundle)
    f = tmp_path / "x"
    f.write_text("x")
    p = _via_shell(runtime, f"exec 3<{f} 7<{f}", "exec", "-t", cid, "sh", "-c", LS)
    assert p.returncode == 0, p.stderr
    assert _fds(p.stdout) == [0, 1, 2, 3]


# --- run / create ---------------------------------------------------------------------------------

def test_run_listen_fds(runtime, bundle, tmp_path):
    a = tmp_path / "a"
    a.write_text("activated\n")
    b = bundle(["sh", "-c", f'echo "$LISTEN_FDS $LISTEN_PID"; cat <&3; {LS}'])
    cid = runtime.new_id()
    p = _via_shell(runtime, f"exec 3<{a} 4<{a}", "run", "-b", str(b), cid, env_prefix="LISTEN_FDS=1 LISTEN_PID=$$")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[:2] == ["1 1", "activated"]      # runc: LISTEN_PID=1, the container's init
    assert _fds(lines[2].encode()) == [0, 1, 2, 3, 4]     # 4: ls; the caller's 4 stayed out


@pytest.mark.parametrize("n", [0, 2])
def test_run_preserve_fds_and_nothing_else(runtime, bundle, tmp_path, n):
    a = tmp_path / "a"
    a.write_text("x\n")
    b = bundle(["sh", "-c", LS])
    cid = runtime.new_id()
    p = _via_shell(runtime, f"exec 3<{a} 4<{a} 8<{a}", "run", "--preserve-fds", str(n), "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    assert _fds(p.stdout) == list(range(3 + n + 1))
