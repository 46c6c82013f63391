"""pyoci exec (issue 5 item 1) on real busybox containers, checked against what runc 1.1 does."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tests.conftest import wait_for
from tests.helpers_tty import adopt_orphans

orphans = pytest.fixture(adopt_orphans)


def _running(runtime, bundle, args=("sleep", "300"), edit=None) -> tuple[str, int]:
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(bundle(list(args), edit=edit)), cid, check=True)
    return cid, runtime.state(cid)["pid"]


def _status_field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {text!r}")


def _caps(names_hex: str) -> int:
    return int(names_hex, 16)


CAP_KILL, CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN, CAP_AUDIT_WRITE = 5, 10, 21, 29


# --- exit status and errors --------------------------------------------------------------------

@pytest.mark.parametrize("script,code", [("exit 0", 0), ("exit 7", 7), ("exit 255", 255),
                                         ("kill -TERM $$", 128 + signal.SIGTERM),
                                         ("kill -KILL $$", 128 + signal.SIGKILL)])
def test_exit_status(runtime, bundle, script, code):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", cid, "sh", "-c", script)
    assert p.returncode == code, p.stderr


def test_output_and_stdin_pass_through(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", cid, "sh", "-c", "cat; echo err >&2", input=b"from stdin\n")
    assert p.returncode == 0
    assert p.stdout == b"from stdin\n" and p.stderr == b"err\n"


@pytest.mark.parametrize("cmd,text", [
    ("nosuchcmd", (b'exec failed: unable to start container process: exec: "nosuchcmd": executable file not '
                   b"found in $PATH")),
    ("/nonexistent", (b'exec failed: unable to start container process: exec: "/nonexistent": stat '
                      b"/nonexistent: no such file or directory")),
    ("/etc/passwd", b'exec failed: unable to start container process: exec: "/etc/passwd": permission denied'),
])
def test_exec_errors_in_runc_words(runtime, bundle, cmd, text):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", cid, cmd)
    # runc: exit 255, so the caller can tell a failed exec from the process's own status
    assert p.returncode == 255
    assert text in p.stderr


def test_no_args(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", cid)
    assert p.returncode == 255 and b"exec failed: process args cannot be empty" in p.stderr


def test_missing_container(runtime):
    p = runtime("exec", "nosuchid", "true")
    assert p.returncode == 255 and b"exec failed: container does not exist" in p.stderr


def test_stopped_container(runtime, bundle):
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(bundle(["true"])), cid, check=True)
    wait_for(lambda: runtime.state(cid)["status"] == "stopped")
    p = runtime("exec", cid, "true")
    assert p.returncode == 255 and b"exec failed: cannot exec in a stopped container" in p.stderr


def test_paused_container(orphans, runtime, bundle, tmp_path):
    cid, _ = _running(runtime, bundle)
    runtime("pause", cid, check=True)
    p = runtime("exec", cid, "true")
    assert p.returncode == 255
    assert b"exec failed: cannot exec in a paused container (use --ignore-paused to override)" in p.stderr
    # --ignore-paused: the process joins the frozen cgroup and runs on resume (runc does the same).
    out = tmp_path / "pid"
    p = runtime("exec", "--ignore-paused", "-d", "--pid-file", str(out), cid, "sh", "-c",
                "echo ran > /tmp/ran")
    assert p.returncode == 0, p.stderr
    pid = int(out.read_text())
    assert runtime("exec", cid, "cat", "/tmp/ran").returncode == 255    # still paused
    runtime("resume", cid, check=True)
    wait_for(lambda: runtime("exec", cid, "cat", "/tmp/ran").stdout == b"ran\n")
    os.waitpid(pid, 0)


def test_created_container(runtime, bundle):
    # runc lets one exec into a created container: it joins the namespaces init set up.
    cid = runtime.new_id()
    runtime("create", "-b", str(bundle(["sleep", "300"])), cid, check=True)
    init = runtime.state(cid)["pid"]
    p = runtime("exec", cid, "sh", "-c", "readlink /proc/self/ns/pid; cat /proc/1/comm")
    assert p.returncode == 0, p.stderr
    ns, comm = p.stdout.decode().split()
    assert ns == os.readlink(f"/proc/{init}/ns/pid")
    assert comm != "sleep"      # pid 1 is init, still waiting for start
    assert runtime.state(cid)["status"] == "created"
    runtime("start", cid, check=True)
    assert runtime.state(cid)["status"] == "running"


# --- detach and pid file -----------------------------------------------------------------------

def test_detach_pid_file(orphans, runtime, bundle, tmp_path):
    cid, init = _running(runtime, bundle)
    pf = tmp_path / "exec.pid"
    p = runtime("exec", "-d", "--pid-file", str(pf), cid, "sleep", "300")
    assert p.returncode == 0, p.stderr
    text = pf.read_text()
    assert text == text.strip() and text.isdigit()         # runc: no newline
    pid = int(text)
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "sleep"
    # in the container: its namespaces and cgroups are init's
    for ns in ("pid", "mnt", "net", "ipc", "uts", "cgroup"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/{init}/ns/{ns}"), ns
    with open(f"/proc/{pid}/cgroup") as f1, open(f"/proc/{init}/cgroup") as f2:
        assert f1.read() == f2.read()
    # the runtime is gone; the process is ours now (we are its subreaper, as conmon is)
    with open(f"/proc/{pid}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid()
    assert pid in [int(x) for x in json.loads(runtime("ps", "--format", "json", cid).stdout)]
    os.kill(pid, signal.SIGKILL)
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == -signal.SIGKILL


def test_foreground_pid_file_and_signal_forwarding(runtime, bundle, tmp_path):
    import subprocess
    import time

    cid, _ = _running(runtime, bundle)
    pf = tmp_path / "fg.pid"
    proc = subprocess.Popen([runtime.binary, "--root", str(runtime.root), "exec", "--pid-file", str(pf), cid,
                             "sh", "-c", "trap 'echo got-usr1; exit 9' USR1; echo ready; while :; do sleep 0.05; done"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        wait_for(lambda: pf.exists() and pf.read_text().isdigit())   # runc writes it in the foreground too
        time.sleep(0.1)
        proc.send_signal(signal.SIGUSR1)    # forwarded to the process
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 9, err
    assert out == b"got-usr1\n"


# --- the process: env, cwd, user, groups, capabilities, rlimits ---------------------------------

def test_env_cwd_user_groups(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", "-e", "FOO=bar baz", "--env", "PATH=/bin", "--cwd", "/tmp", "-u", "65534:65534",
                "-g", "5", "--additional-gids", "7", cid, "sh", "-c", 'echo "$FOO"; echo $PATH; pwd; id -u; id -g; '
                'id -G; echo $HOME; umask')
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == ["bar baz", "/bin", "/tmp", "65534", "65534", "65534 5 7",
                                              "/nonexistent", "0022"]


def test_defaults_from_the_container(runtime, bundle):
    def edit(c):
        c["process"]["env"] = ["PATH=/bin:/usr/bin", "FROM_CONFIG=yes"]
        c["process"]["cwd"] = "/etc"
        c["process"]["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [3]}
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
    cid, _ = _running(runtime, bundle, edit=edit)
    p = runtime("exec", cid, "sh", "-c", "echo $FROM_CONFIG; pwd; id -u; id -G; ulimit -n; ulimit -Hn")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == ["yes", "/etc", "65534", "65534 3", "123", "456"]


def test_capabilities_and_no_new_privileges(runtime, bundle):
    cid, init = _running(runtime, bundle)
    with open(f"/proc/{init}/status") as f:
        init_status = f.read()
    p = runtime("exec", cid, "cat", "/proc/self/status")
    assert p.returncode == 0, p.stderr
    st = p.stdout.decode()
    for field in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb", "NoNewPrivs"):
        assert _status_field(st, field) == _status_field(init_status, field), field
    assert _caps(_status_field(st, "CapEff")) == (1 << CAP_KILL) | (1 << CAP_NET_BIND_SERVICE) | (1 << CAP_AUDIT_WRITE)
    assert _status_field(st, "NoNewPrivs") == "1"
    # --cap adds to bounding, effective, permitted (and ambient) like runc
    st = runtime("exec", "--cap", "CAP_SYS_ADMIN", cid, "cat", "/proc/self/status").stdout.decode()
    for field in ("CapBnd", "CapEff", "CapPrm"):
        assert _caps(_status_field(st, field)) & (1 << CAP_SYS_ADMIN), field
    p = runtime("exec", "--cap", "CAP_NOPE", cid, "true")
    assert p.returncode == 255 and b"unknown capability 'CAP_NOPE'" in p.stderr


def test_no_new_privs_flag_and_seccomp_of_the_container(runtime, bundle):
    def edit(c):
        c["process"]["noNewPrivileges"] = False
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO",
                                               "errnoRet": 1}]}
    cid, _ = _running(runtime, bundle, edit=edit)
    p = runtime("exec", cid, "sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; mkdir /tmp/d")
    assert p.returncode == 1
    assert b"NoNewPrivs:\t0" in p.stdout and b"Seccomp:\t2" in p.stdout
    assert b"Operation not permitted" in p.stderr
    p = runtime("exec", "--no-new-privs", cid, "grep", "NoNewPrivs", "/proc/self/status")
    assert p.stdout == b"NoNewPrivs:\t1\n"


def test_process_file_podman_like(runtime, bundle, tmp_path):
    """podman's exec-process-NNN: no noNewPrivileges, no inheritable/ambient, its own rlimits."""
    cid, _ = _running(runtime, bundle)
    script = "env; ulimit -n; pwd; grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status"
    proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", script],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "container=podman", "HOME=/root"],
            "cwd": "/", "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_KILL"],
                                         "permitted": ["CAP_CHOWN", "CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1000, "soft": 900}]}
    f = tmp_path / "exec-process-123"
    f.write_text(json.dumps(proc))
    p = runtime("exec", "--pid-file", str(tmp_path / "exec_pid"), "--process", str(f), cid)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert "container=podman" in out and "HOME=/root" in out and "900" in out.splitlines()
    assert _caps(_status_field(out, "CapEff")) == 1 | (1 << CAP_KILL)
    assert _caps(_status_field(out, "CapBnd")) == 1 | (1 << CAP_KILL)
    assert _caps(_status_field(out, "CapAmb")) == 0
    assert (tmp_path / "exec_pid").read_text().isdigit()


def test_process_file_shim_like_and_absent_fields(runtime, bundle, tmp_path):
    """The shim's /tmp/runc-processNNN (with additionalGids, noNewPrivileges); a field left out takes
    the container's value (cwd here), and flags do not override the file (runc ignores them)."""
    def edit(c):
        c["process"]["cwd"] = "/var"
    cid, _ = _running(runtime, bundle, edit=edit)
    script = "pwd; id -G; grep NoNewPrivs /proc/self/status; echo $X"
    proc = {"user": {"uid": 65534, "gid": 65534, "additionalGids": [1, 2]}, "args": ["sh", "-c", script],
            "env": ["PATH=/bin", "X=from-file"], "noNewPrivileges": False}
    f = tmp_path / "runc-process42"
    f.write_text(json.dumps(proc))
    p = runtime("exec", "--process", str(f), "--cwd", "/tmp", "-e", "X=from-flag", cid, "ignored")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == ["/var", "65534 1 2", "NoNewPrivs:\t0", "from-file"]


@pytest.mark.parametrize("proc,text", [
    ({"args": []}, b"args must not be empty"),
    ({"args": ["true"], "cwd": "relative"}, b"Cwd must be an absolute path"),
    ({"args": ["true"], "selinuxLabel": "system_u:system_r:container_t:s0"},
     b"selinux label is specified in config, but selinux is disabled or not supported"),
])
def test_process_file_validation(runtime, bundle, tmp_path, proc, text):
    cid, _ = _running(runtime, bundle)
    f = tmp_path / "p.json"
    f.write_text(json.dumps(proc))
    p = runtime("exec", "--process", str(f), cid)
    assert p.returncode == 255 and text in p.stderr, p.stderr


def test_bad_user_flag(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", "-u", "nobody", cid, "true")
    assert p.returncode == 255 and b"parsing nobody as int for uid failed" in p.stderr


# --- namespaces, cgroups, the runtime inside -----------------------------------------------------

@pytest.mark.parametrize("userns", [False, True])
def test_joins_every_namespace_of_init(runtime, bundle, userns):
    def edit(c):
        types = {n["type"] for n in c["linux"]["namespaces"]}
        for t in ("cgroup", "time") + (("user",) if userns else ()):
            if t not in types:
                c["linux"]["namespaces"].append({"type": t})
        if userns:
            c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
            c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["hostname"] = "inside"
    if userns:
        from tests.integration.test_namespaces import _chown_tree

        b = bundle(["sleep", "300"], edit=edit)
        _chown_tree(b / "rootfs", 100000, 100000)
        cid = runtime.new_id()
        runtime("run", "-d", "-b", str(b), cid, check=True)
        init = runtime.state(cid)["pid"]
    else:
        cid, init = _running(runtime, bundle, edit=edit)
    names = ("pid", "mnt", "net", "ipc", "uts", "cgroup", "user", "time")
    p = runtime("exec", cid, "sh", "-c", "for n in " + " ".join(names) + "; do readlink /proc/self/ns/$n; done; "
                "hostname; cat /proc/self/cgroup; echo $$; id -u; cat /proc/self/uid_map")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    for n, got in zip(names, lines):
        assert got == os.readlink(f"/proc/{init}/ns/{n}"), n
        assert (got == os.readlink(f"/proc/self/ns/{n}")) == (n == "user" and not userns), n
    rest = lines[len(names):]
    assert rest[0] == "inside"
    # in the cgroup namespace its cgroups are "/"; pid 1 is the container's init
    cg = [line for line in rest[1:] if line.count(":") >= 2]
    assert cg and all(line.endswith(":/") for line in cg)
    pid, uid, uid_map = rest[1 + len(cg):]
    assert int(pid) > 1 and uid == "0"
    assert uid_map.split() == (["0", "100000", "65536"] if userns else ["0", "0", "4294967295"])
    with open(f"/proc/{init}/status") as f:
        host_uid = _status_field(f.read(), "Uid").split()[0]
    assert host_uid == ("100000" if userns else "0")


def test_sub_cgroup(runtime, bundle):
    cid, init = _running(runtime, bundle)
    with open(f"/proc/{init}/cgroup") as f:
        pids_rel = next(line.split(":", 2)[2].strip() for line in f if ":pids:" in line)
    sub = f"/sys/fs/cgroup/pids{pids_rel}/sub"
    os.mkdir(sub)
    try:
        p = runtime("exec", "--cgroup", "pids:sub", cid, "cat", "/proc/self/cgroup")
        assert p.returncode == 0, p.stderr
        assert f"pids:{pids_rel}/sub" in p.stdout.decode()
        assert f"memory:{pids_rel}/sub" not in p.stdout.decode()
        p = runtime("exec", "--cgroup", "pids:nope", cid, "true")
        assert p.returncode == 255 and b"nope" in p.stderr
        p = runtime("exec", "--cgroup", "bogus:sub", cid, "true")
        assert p.returncode == 255 and b"unknown controller bogus in --cgroup argument" in p.stderr
        p = runtime("exec", "--cgroup", "pids:../../..", cid, "true")
        assert p.returncode == 255 and b"bad sub cgroup path" in p.stderr
    finally:
        def empty() -> bool:
            with open(f"{sub}/cgroup.procs") as f:
                return not f.read().strip()
        wait_for(empty)
        os.rmdir(sub)


def test_own_session(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", cid, "sh", "-c", "echo $$; cat /proc/self/stat")
    shell, stat = p.stdout.decode().splitlines()
    # a session of its own (runc's nsexec does setsid): cat's session id is the shell's pid
    assert stat.rsplit(")", 1)[1].split()[3] == shell


def test_runtime_is_not_dumpable_inside(orphans, runtime, bundle, tmp_path):
    """While pyoci's child is in the container it is the host's python (/proc/PID/exe): it must be
    non-dumpable, so a container process with the same uid and capabilities cannot reach the
    host's binary through /proc/PID/exe (CVE-2019-5736). Caught in the act: in a paused container,
    --ignore-paused freezes the child as the runtime joins it to the cgroups, normally after it
    dropped to the container's capabilities (it stays uid 0: a uid change alone would make the
    kernel reset dumpability, and the test could not tell), and before execve."""
    import subprocess

    cid, init = _running(runtime, bundle)
    with open(f"/proc/{init}/status") as f:
        container_caps = _status_field(f.read(), "CapEff")
    runtime("pause", cid, check=True)
    caught = None
    pids = []
    for i in range(10):
        pf = tmp_path / f"pid{i}"
        p = runtime("exec", "--ignore-paused", "-d", "--pid-file", str(pf), cid, "sleep", "300")
        assert p.returncode == 0, p.stderr
        pid = int(pf.read_text())
        pids.append(pid)
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        # still pyoci (its name; execve resets it), with the container's capabilities already
        if _status_field(status, "Name") == "pyoci:[2:EXEC]" and _status_field(status, "CapEff") == container_caps:
            caught = pid
            break
    # A reader like a process in the container: uid 0 and every capability but CAP_SYS_PTRACE
    # (a superset of the container's), so that only dumpability decides.
    reader = ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "readlink"]
    try:
        if caught is None:
            pytest.skip("the runtime's child never froze between dropping capabilities and execve")
        r = subprocess.run([*reader, f"/proc/{caught}/exe"], capture_output=True, check=False)
        assert r.returncode != 0 and r.stdout == b""
    finally:
        runtime("resume", cid, check=True)

    def exec_done() -> bool:
        with open(f"/proc/{caught}/comm") as f:
            return f.read().strip() == "sleep"
    # once it is the user's program it is dumpable again, and the same read works
    wait_for(exec_done)
    r = subprocess.run([*reader, f"/proc/{caught}/exe"], capture_output=True, check=False)
    assert r.returncode == 0 and r.stdout.strip().endswith(b"busybox"), r
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_seccomp_notify_listener_gets_the_exec_process(runtime, bundle, tmp_path):
    """SCMP_ACT_NOTIFY: as at create, the new process's notify fd goes to listenerPath, from the
    runtime (pidfd_getfd), with the container's state and the exec'd process's pid."""
    import socket
    import threading

    path = str(tmp_path / "listener.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    got: list[dict] = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                msg, fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
                got.append({"msg": json.loads(msg), "nfds": len(fds)})
                for fd in fds:
                    os.close(fd)   # nobody answers: notified syscalls then fail (ENOSYS)
    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
                                 "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    try:
        cid, init = _running(runtime, bundle, edit=edit)
        wait_for(lambda: len(got) == 1)
        p = runtime("exec", "--pid-file", str(tmp_path / "pid"), cid, "sh", "-c", "mkdir /tmp/d; echo end")
    finally:
        srv.close()
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"end\n" and b"mkdir" in p.stderr        # the notified mkdir failed
    assert len(got) == 2 and got[1]["nfds"] == 1
    msg = got[1]["msg"]
    assert msg["fds"] == ["seccompFd"] and msg["state"]["id"] == cid and msg["state"]["pid"] == init
    assert msg["pid"] == int((tmp_path / "pid").read_text())


def test_lsm_flags_without_an_lsm(runtime, bundle):
    """No AppArmor or SELinux on this host: runc fails both, so do we (the profile when the kernel
    refuses it, the label up front)."""
    cid, _ = _running(runtime, bundle)
    p = runtime("exec", "--apparmor", "some-profile", cid, "true")
    assert p.returncode == 255
    assert b"exec failed: unable to start container process: process.apparmorProfile" in p.stderr
    p = runtime("exec", "--process-label", "system_u:system_r:container_t:s0", cid, "true")
    assert p.returncode == 255
    assert b"selinux label is specified in config, but selinux is disabled or not supported" in p.stderr


def test_without_clone_into_cgroup(runtime, bundle):
    """Before Linux 5.7 (or if the kernel refuses it) clone3(CLONE_INTO_CGROUP) fails: exec then
    forks, and the process moves itself into the cgroup2 directory too."""
    import subprocess
    import sys

    cid, init = _running(runtime, bundle)
    code = ("import errno, sys\n"
            "from ociruntime.process import execcg\n"
            "def refuse(fd):\n"
            "    raise OSError(errno.ENOSYS, 'clone3: not here')\n"
            "execcg.clone_into_cgroup = refuse\n"
            "from ociruntime.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    p = subprocess.run([sys.executable, "-c", code, "--root", str(runtime.root), "exec", cid, "cat", "/proc/self/cgroup"],
                       capture_output=True, check=False, timeout=60)
    assert p.returncode == 0, p.stderr
    with open(f"/proc/{init}/cgroup") as f:
        assert p.stdout.decode() == f.read()


def test_exec_keeps_callers_keyring_when_created_without_one(runtime, bundle):
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("run", "-d", "--no-new-keyring", "-b", str(b), cid, check=True)
    p = runtime("exec", cid, "cat", "/proc/self/status")
    assert p.returncode == 0, p.stderr
    with open("/proc/keys") as f:
        assert f"_ses.{cid}" not in f.read()
