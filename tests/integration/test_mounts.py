"""Mounts, complete (issue 3 item 3): recursive attributes, propagation, tmpcopyup, idmapped mounts."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration.test_inside import ok, run_sh
from tests.integration.test_namespaces import MAP, _chown_tree, _userns


def _mountinfo_line(out: str, mountpoint: str) -> list[str]:
    for line in out.splitlines():
        f = line.split()
        if len(f) > 4 and f[4] == mountpoint:
            return f
    raise AssertionError(f"{mountpoint} not in {out}")


@pytest.fixture
def nested_source(tmp_path):
    """A host directory with a tmpfs mounted below it (a submount), unmounted at teardown."""
    src = tmp_path / "nested"
    (src / "sub").mkdir(parents=True)
    (src / "top.txt").write_text("top\n")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(src / "sub")], check=True)
    try:
        (src / "sub" / "inner.txt").write_text("inner\n")
        yield src
    finally:
        subprocess.run(["umount", "-l", str(src / "sub")], check=True)


def test_recursive_read_only_covers_submounts(runtime, bundle, nested_source):
    def edit(c):
        c["mounts"].append({"destination": "/data", "type": "bind", "source": str(nested_source),
                            "options": ["rbind", "rro", "rnosuid", "rnodev", "rnoexec"]})
    out = ok(runtime, bundle, "touch /data/x || echo RO-TOP; touch /data/sub/x || echo RO-SUB; "
                              "cat /data/sub/inner.txt; cat /proc/self/mountinfo", edit)
    assert "RO-TOP" in out and "RO-SUB" in out and "inner" in out
    for mp in ("/data", "/data/sub"):
        opts = _mountinfo_line(out, mp)[5].split(",")
        assert {"ro", "nosuid", "nodev", "noexec"} <= set(opts), (mp, opts)
    # the host's mounts are untouched
    with open("/proc/self/mountinfo") as f:
        host = f.read()
    assert "rw" in _mountinfo_line(host, str(nested_source / "sub"))[5].split(",")


def test_plain_ro_bind_leaves_submount_writable(runtime, bundle, nested_source):
    def edit(c):
        c["mounts"].append({"destination": "/data", "type": "bind", "source": str(nested_source),
                            "options": ["rbind", "ro"]})
    out = ok(runtime, bundle, "touch /data/x || echo RO-TOP; touch /data/sub/x && echo RW-SUB; rm -f /data/sub/x",
             edit)
    assert "RO-TOP" in out and "RW-SUB" in out


def test_nosymfollow(runtime, bundle, tmp_path):
    src = tmp_path / "links"
    src.mkdir()
    (src / "target").write_text("followed\n")
    os.symlink("target", src / "link")

    def edit(c):
        c["mounts"].append({"destination": "/links", "type": "bind", "source": str(src),
                            "options": ["bind", "nosymfollow"]})
    out = ok(runtime, bundle, "cat /links/link || echo NOFOLLOW; cat /links/target", edit)
    assert "NOFOLLOW" in out and "followed" in out


@pytest.mark.parametrize("option,tag", [("shared", "shared:"), ("unbindable", "unbindable"),
                                        ("private", None)])
def test_mount_propagation_options(runtime, bundle, tmp_path, option, tag):
    src = tmp_path / "p"
    src.mkdir()

    def edit(c):
        c["mounts"].append({"destination": "/p", "type": "bind", "source": str(src), "options": ["rbind", option]})
    out = ok(runtime, bundle, "cat /proc/self/mountinfo", edit)
    line = " ".join(_mountinfo_line(out, "/p"))
    fields = line.split(" - ")[0].split()[6:]
    if tag:
        assert any(f.startswith(tag) for f in fields), line
    else:
        assert fields == [], line


@pytest.mark.parametrize("prop,tag", [("shared", "shared:"), ("private", None), ("unbindable", "unbindable"),
                                      ("slave", None)])
def test_rootfs_propagation_and_nothing_leaks(runtime, bundle, prop, tag):
    watched = {"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/tmp", "/sys/fs/cgroup"}

    def host_mounts() -> list[str]:
        # Mount points a leak would add (again) on the host; other suites' podman mounts vary.
        with open("/proc/self/mountinfo") as f:
            return sorted(ln.split()[4] for ln in f if ln.split()[4] in watched or "bundle" in ln.split()[4])
    before = host_mounts()
    out = ok(runtime, bundle, "cat /proc/self/mountinfo; mount -t tmpfs tmpfs /tmp && echo MOUNTED",
             lambda c: c["linux"].update(rootfsPropagation=prop) or
             c["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN") or
             c["process"]["capabilities"]["effective"].append("CAP_SYS_ADMIN") or
             c["process"]["capabilities"]["permitted"].append("CAP_SYS_ADMIN"))
    root = " ".join(_mountinfo_line(out, "/"))
    fields = root.split(" - ")[0].split()[6:]
    if tag:
        assert any(f.startswith(tag) for f in fields), root
    assert "MOUNTED" in out
    # nothing the container mounted (proc, sysfs, devpts, its /tmp) propagated to the host
    assert host_mounts() == before


def test_tmpcopyup(runtime, bundle):
    def edit(c):
        c["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                            "options": ["tmpcopyup", "mode=755"]})
    out = ok(runtime, bundle, "grep ' /etc ' /proc/mounts; cat /etc/passwd | head -1; readlink /etc/mtab || true; "
                              "echo new > /etc/newfile && cat /etc/newfile", edit)
    assert "tmpfs /etc tmpfs" in out
    assert "root:x:0:0" in out and "new" in out


def test_idmapped_bind_with_explicit_mappings(runtime, bundle, tmp_path):
    src = tmp_path / "idm"
    src.mkdir()
    (src / "f").write_text("x")
    os.chown(src / "f", 0, 0)
    os.chown(src, 0, 0)

    def edit(c):
        c["mounts"].append({"destination": "/idm", "type": "bind", "source": str(src), "options": ["bind", "idmap"],
                            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                            "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 1}]})
    out = ok(runtime, bundle, "stat -c '%u:%g' /idm/f; grep ' /idm ' /proc/self/mountinfo", edit)
    assert out.splitlines()[0] == "1000:2000"
    assert "idmapped" in out
    assert os.stat(src / "f").st_uid == 0      # the source itself is unchanged


def test_idmapped_bind_implied_by_user_namespace(runtime, bundle, tmp_path):
    src = tmp_path / "vol"
    src.mkdir()
    (src / "f").write_text("x")

    def edit(c):
        _userns(c)
        c["mounts"].append({"destination": "/vol", "type": "bind", "source": str(src), "options": ["rbind", "idmap"]})
    b = bundle(["sh", "-c", "stat -c '%u:%g' /vol/f; touch /vol/g && stat -c '%u:%g' /vol/g"], edit=edit)
    _chown_tree(b / "rootfs", 100000, 100000)
    os.chmod(tmp_path, 0o755)
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    # host root's file is root's inside the container, and what the container writes is host root's
    assert p.stdout.decode().split() == ["0:0", "0:0"]
    assert os.stat(src / "g").st_uid == 0


def test_ridmap_is_recursive_and_idmap_is_not(runtime, bundle, nested_source):
    def edit(c):
        c["mounts"] += [
            {"destination": "/flat", "type": "bind", "source": str(nested_source), "options": ["rbind", "idmap"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
             "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]},
            {"destination": "/deep", "type": "bind", "source": str(nested_source), "options": ["rbind", "ridmap"],
             "uidMappings": [{"containerID": 0, "hostID": 2000, "size": 1}],
             "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 1}]},
        ]
    out = ok(runtime, bundle, "stat -c '%u' /flat/top.txt /flat/sub/inner.txt /deep/top.txt /deep/sub/inner.txt", edit)
    assert out.split() == ["1000", "0", "2000", "2000"]


def test_idmap_without_any_mappings_is_an_error(runtime, bundle, tmp_path):
    def edit(c):
        c["mounts"].append({"destination": "/x", "type": "bind", "source": str(tmp_path), "options": ["bind", "idmap"]})
    rc, out, err = run_sh(runtime, bundle, "true", edit)
    assert rc == 1 and "mounts[" in err and "idmap" in err


def test_mount_destination_symlink_stays_inside_rootfs(runtime, bundle, tmp_path):
    """A destination that is a symlink to the host's / is resolved inside the rootfs (CVE-2021-30465 class)."""
    escape = tmp_path / "escape-target"
    escape.mkdir()

    def edit(c):
        c["mounts"].append({"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"})
    b = bundle(["sh", "-c", "grep ' /evil\\| /tmp/' /proc/mounts; ls -d /evil/x"], edit=edit)
    os.symlink(str(escape), b / "rootfs" / "evil")
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    # the mount landed at <rootfs>/<escape path>/x, never on the host's directory
    assert not (escape / "x").exists()
    assert (b / "rootfs" / str(escape).lstrip("/") / "x").is_dir()


def test_destination_escaping_root_is_rejected(runtime, bundle):
    rc, out, err = run_sh(runtime, bundle, "true", lambda c: c["mounts"].append(
        {"destination": "/../../etc/x", "type": "tmpfs", "source": "tmpfs"}))
    assert rc == 1 and "mounts[" in err and "escapes" in err


def test_missing_bind_source(runtime, bundle):
    rc, out, err = run_sh(runtime, bundle, "true", lambda c: c["mounts"].append(
        {"destination": "/x", "type": "bind", "source": "/nonexistent/src", "options": ["bind"]}))
    assert rc == 1 and "/nonexistent/src" in err


def test_unknown_mount_option_passes_to_kernel_and_fails_clearly(runtime, bundle):
    rc, out, err = run_sh(runtime, bundle, "true", lambda c: c["mounts"].append(
        {"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["bogusopt=1"]}))
    assert rc == 1 and "/x" in err


def test_single_file_bind_mount_map(runtime, bundle, tmp_path):
    f = tmp_path / "hosts"
    f.write_text("10.0.0.1 example\n")
    out = ok(runtime, bundle, "cat /etc/hosts", lambda c: c["mounts"].append(
        {"destination": "/etc/hosts", "type": "bind", "source": str(f), "options": ["bind", "ro"]}))
    assert "10.0.0.1 example" in out
    _ = MAP
