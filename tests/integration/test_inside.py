"""Issue 2 item 6, checked from inside the container with busybox applets."""

from __future__ import annotations

import os

import pytest


def run_sh(runtime, bundle, script: str, edit=None, args_prefix=("sh", "-c")) -> tuple[int, str, str]:
    b = bundle([*args_prefix, script], edit=edit)
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def ok(runtime, bundle, script: str, edit=None) -> str:
    rc, out, err = run_sh(runtime, bundle, script, edit)
    assert rc == 0, f"rc={rc} out={out!r} err={err!r}"
    return out


def _status_field(out: str, name: str) -> str:
    for line in out.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {out!r}")


@pytest.mark.parametrize("ns,proc", [("pid", "pid"), ("mount", "mnt"), ("uts", "uts"), ("ipc", "ipc"),
                                     ("network", "net"), ("cgroup", "cgroup")])
def test_new_namespaces(runtime, bundle, ns, proc):
    def edit(c):
        types = {n["type"] for n in c["linux"]["namespaces"]}
        if ns not in types:
            c["linux"]["namespaces"].append({"type": ns})
    out = ok(runtime, bundle, f"readlink /proc/self/ns/{proc}", edit)
    assert out.strip() != os.readlink(f"/proc/self/ns/{proc}")


def test_pid_one_and_hostname(runtime, bundle):
    out = ok(runtime, bundle, "echo $$; hostname", lambda c: c.update(hostname="box-1"))
    assert out.split() == ["1", "box-1"]


def test_join_namespace_by_path(runtime, bundle):
    b = bundle(["sleep", "300"])
    first = runtime.new_id()
    runtime("run", "-d", "-b", str(b), first, check=True)
    pid = runtime.state(first)["pid"]
    net = os.readlink(f"/proc/{pid}/ns/net")
    uts = os.readlink(f"/proc/{pid}/ns/uts")

    def edit(c):
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = f"/proc/{pid}/ns/net"
            if n["type"] == "uts":
                n["path"] = f"/proc/{pid}/ns/uts"
        c.pop("hostname", None)
    out = ok(runtime, bundle, "readlink /proc/self/ns/net; readlink /proc/self/ns/uts", edit)
    assert out.split() == [net, uts]


def test_loopback_up_in_new_netns(runtime, bundle):
    out = ok(runtime, bundle, "cat /sys/class/net/lo/operstate; ip -o link show lo")
    assert "UP" in out.splitlines()[1] or out.splitlines()[0] in ("unknown", "up")
    assert "LOOPBACK,UP" in out


def test_env_cwd_args(runtime, bundle):
    def edit(c):
        c["process"]["env"] = ["PATH=/bin:/usr/bin", "FOO=bar baz"]
        c["process"]["cwd"] = "/tmp/work/dir"
    out = ok(runtime, bundle, 'echo "$FOO"; pwd; echo "$HOME"; echo "$0"', edit)
    assert out.splitlines() == ["bar baz", "/tmp/work/dir", "/root", "sh"]


def test_user_groups_umask(runtime, bundle):
    def edit(c):
        c["process"]["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [5, 7], "umask": 0o077}
    out = ok(runtime, bundle, "id -u; id -g; cat /proc/self/status | grep ^Groups; umask; echo $HOME", edit)
    lines = out.splitlines()
    assert lines[0] == "65534" and lines[1] == "65534"
    assert lines[2].split()[1:] == ["5", "7"]
    assert lines[3] == "0077"
    assert lines[4] == "/nonexistent" or lines[4].startswith("/")


def test_rlimits(runtime, bundle):
    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
                                   {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    out = ok(runtime, bundle, "ulimit -n; ulimit -Hn; ulimit -c", edit)
    assert out.split() == ["123", "456", "0"]


def test_capabilities_all_sets(runtime, bundle):
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

    def edit(c):
        c["process"]["capabilities"] = {"bounding": caps + ["CAP_SYS_ADMIN"], "effective": caps,
                                        "permitted": caps, "inheritable": caps, "ambient": ["CAP_KILL"]}
    out = ok(runtime, bundle, "cat /proc/self/status", edit)
    bit = lambda *ns: f"{sum(1 << n for n in ns):016x}"  # noqa: E731
    assert _status_field(out, "CapBnd") == bit(0, 5, 10, 21)
    # sh is exec'd by root: permitted/effective come from bounding for uid 0
    assert _status_field(out, "CapInh") == bit(0, 5, 10)
    assert _status_field(out, "CapAmb") == bit(5)


def test_capabilities_non_root_user(runtime, bundle):
    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["capabilities"] = {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                                        "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"],
                                        "ambient": ["CAP_KILL"]}
    out = ok(runtime, bundle, "cat /proc/self/status", edit)
    assert _status_field(out, "CapEff") == f"{1 << 5:016x}"
    assert _status_field(out, "CapPrm") == f"{1 << 5:016x}"
    assert _status_field(out, "CapAmb") == f"{1 << 5:016x}"


def test_no_new_privileges_and_oom_score_adj(runtime, bundle):
    def edit(c):
        c["process"]["noNewPrivileges"] = True
        c["process"]["oomScoreAdj"] = 123
    out = ok(runtime, bundle, "grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj", edit)
    assert out.split()[1:] == ["1", "123"]

    def edit2(c):
        c["process"]["noNewPrivileges"] = False
    out = ok(runtime, bundle, "grep NoNewPrivs /proc/self/status", edit2)
    assert out.split()[1] == "0"


def test_default_mounts_and_devices(runtime, bundle):
    out = ok(runtime, bundle, "cat /proc/mounts; ls -l /dev/null /dev/zero /dev/full /dev/tty /dev/random "
                              "/dev/urandom; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done")
    mounts = {line.split()[1]: line.split() for line in out.splitlines() if line.startswith(("proc", "sysfs",
                                                                                           "tmpfs", "devpts",
                                                                                           "mqueue", "shm",
                                                                                           "cgroup"))}
    assert mounts["/proc"][2] == "proc"
    assert mounts["/sys"][2] == "sysfs" and "ro" in mounts["/sys"][3].split(",")
    assert mounts["/dev"][2] == "tmpfs" and "nosuid" in mounts["/dev"][3]
    assert mounts["/dev/pts"][2] == "devpts"
    assert mounts["/dev/mqueue"][2] == "mqueue"
    for dev, (ma, mi) in {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "tty": (5, 0), "random": (1, 8),
                          "urandom": (1, 9)}.items():
        line = next(ln for ln in out.splitlines() if ln.endswith(f"/dev/{dev}"))
        assert line.startswith("crw-rw-rw-"), line
        assert f"{ma}, {mi:>3}" in line or f"{ma},{mi}" in line.replace(" ", ""), line
    assert "pts/ptmx\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2" in out


def test_tmpfs_and_bind_mounts(runtime, bundle):
    src = runtime.tmp / "shared"
    src.mkdir()
    (src / "hello.txt").write_text("from the host\n")
    single = runtime.tmp / "single.txt"
    single.write_text("one file\n")

    def edit(c):
        c["mounts"] += [
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]},
            {"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind", "ro"]},
            {"destination": "/rw", "type": "bind", "source": str(src), "options": ["bind", "rw"]},
            {"destination": "/etc/single.txt", "type": "bind", "source": str(single), "options": ["bind", "ro"]},
        ]
    out = ok(runtime, bundle, "grep -E ' /(scratch|data|rw|etc/single.txt) ' /proc/mounts; stat -c %a /scratch; "
                              "cat /data/hello.txt /etc/single.txt; touch /data/x && echo WROTE-RO; "
                              "touch /rw/new && echo WROTE-RW; true", edit)
    lines = {ln.split()[1]: ln.split()[3].split(",") for ln in out.splitlines() if ln.count(" ") >= 5}
    assert {"nosuid", "nodev", "noexec"} <= set(lines["/scratch"])
    assert "ro" in lines["/data"] and "rw" in lines["/rw"] and "ro" in lines["/etc/single.txt"]
    assert "700" in out and "from the host" in out and "one file" in out
    assert "WROTE-RO" not in out and "WROTE-RW" in out
    assert (src / "new").exists()


def test_masked_and_readonly_paths(runtime, bundle):
    def edit(c):
        c["linux"]["maskedPaths"] = ["/proc/version", "/proc/tty", "/proc/does-not-exist", "/etc/secret-dir"]
        c["linux"]["readonlyPaths"] = ["/proc/sys", "/etc"]
    out = ok(runtime, bundle, "wc -c < /proc/version; ls /proc/tty | wc -l; echo 1 > /proc/sys/kernel/domainname "
                              "|| echo RO-SYS; touch /etc/x || echo RO-ETC; touch /proc/tty/x || echo RO-MASK",
             edit)
    lines = out.split("\n")
    assert lines[0].strip() == "0" and lines[1].strip() == "0"
    assert "RO-SYS" in out and "RO-ETC" in out and "RO-MASK" in out


def test_readonly_root(runtime, bundle):
    def edit(c):
        c["root"]["readonly"] = True
        c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    out = ok(runtime, bundle, "touch /x || echo RO-ROOT; touch /tmp/y && echo TMP-OK", edit)
    assert "RO-ROOT" in out and "TMP-OK" in out


def test_no_pivot(runtime, bundle):
    b = bundle(["sh", "-c", "ls /; cat /proc/self/mountinfo | head -1"])
    cid = runtime.new_id()
    p = runtime("run", "--no-pivot", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    assert b"bin" in p.stdout


def test_only_stdio_and_preserved_fds_reach_container(runtime, bundle):
    import subprocess

    b = bundle(["sh", "-c", "ls /proc/self/fd"])
    cid = runtime.new_id()
    r, w = os.pipe()
    extra = os.open("/dev/null", os.O_RDONLY)  # inheritable from the caller's point of view
    os.set_inheritable(extra, True)
    try:
        p = subprocess.run([runtime.binary, "--root", str(runtime.root), "run", "-b", str(b), cid],
                           capture_output=True, pass_fds=(extra,), timeout=60)
    finally:
        os.close(extra)
        os.close(r)
        os.close(w)
    # ls itself opens one directory fd (3)
    assert p.returncode == 0, p.stderr
    assert sorted(int(x) for x in p.stdout.split()) == [0, 1, 2, 3]


def test_preserve_fds(runtime, bundle):
    import subprocess

    b = bundle(["sh", "-c", "cat <&3; ls /proc/self/fd"])
    cid = runtime.new_id()
    f = runtime.tmp / "data"
    f.write_text("preserved!\n")
    # A shell opens fd 3 for pyoci, so the test's own fds stay untouched.
    p = subprocess.run(["sh", "-c", 'exec 3<"$0"; exec "$@"', str(f), runtime.binary, "--root",
                        str(runtime.root), "run", "--preserve-fds", "1", "-b", str(b), cid],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert b"preserved!" in p.stdout
    assert sorted(int(x) for x in p.stdout.split()[1:]) == [0, 1, 2, 3, 4]


def test_new_session_keyring_unless_asked_not_to(runtime, bundle):
    def keyrings() -> str:
        with open("/proc/keys") as f:
            return f.read()
    b = bundle(["sleep", "300"])
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(b), cid, check=True)
    assert f"_ses.{cid}" in keyrings()
    other = runtime.new_id()
    runtime("run", "-d", "--no-new-keyring", "-b", str(b), other, check=True)
    assert f"_ses.{other}" not in keyrings()


def test_umask_kept_from_caller_when_unset(runtime, bundle):
    import subprocess

    b = bundle(["sh", "-c", "umask"])
    cid = runtime.new_id()
    p = subprocess.run(["sh", "-c", 'umask 0027; exec "$@"', "sh", runtime.binary, "--root", str(runtime.root),
                        "run", "-b", str(b), cid], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().strip() == "0027"


def test_empty_annotation_key_is_an_error(runtime, bundle):
    rc, out, err = run_sh(runtime, bundle, "true", lambda c: c.update(annotations={"": "x"}))
    assert rc == 1 and "annotations" in err
