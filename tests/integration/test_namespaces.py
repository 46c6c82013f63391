"""User and time namespaces (issue 3 items 1-2), checked from inside the container."""

from __future__ import annotations

import os

from tests.integration.test_inside import ok, run_sh

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _searchable(path) -> None:
    """The mapped root (host uid 100000) must be able to walk to the rootfs: pytest's
    /tmp/pytest-of-root is 0700."""
    p = os.path.abspath(path)
    while p != "/":
        st = os.stat(p)
        if not st.st_mode & 0o001:
            os.chmod(p, st.st_mode | 0o001)
        p = os.path.dirname(p)


def _chown_tree(path, uid: int, gid: int) -> None:
    _searchable(os.path.dirname(path))
    os.lchown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, gid)


def _userns(c):
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = MAP
    c["linux"]["gidMappings"] = MAP


def _mapped_bundle(bundle, script, extra=None):
    def edit(c):
        _userns(c)
        if extra:
            extra(c)
    b = bundle(["sh", "-c", script], edit=edit)
    _chown_tree(b / "rootfs", 100000, 100000)
    return b


def test_user_namespace_maps_and_ownership(runtime, bundle):
    b = _mapped_bundle(bundle, "id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u:%g' /bin/busybox; "
                               "ls -ln /dev/null; touch /tmp/f; stat -c '%u:%g' /tmp/f; hostname; "
                               "readlink /proc/self/ns/user")
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"] and lines[2].split() == ["0", "100000", "65536"]
    assert lines[3] == "0:0"                       # the rootfs, chowned to the mapped range, is root's inside
    assert lines[4].startswith("crw-rw-rw-")        # /dev/null: bound from the host, usable
    assert lines[5] == "0:0"
    assert lines[7] != os.readlink("/proc/self/ns/user")
    # a file created inside belongs to the mapped host uid outside
    assert (b / "rootfs" / "tmp" / "f").stat().st_uid == 100000


def test_user_namespace_devices_are_bound(runtime, bundle):
    b = _mapped_bundle(bundle, "echo data > /dev/null && head -c 4 /dev/zero | wc -c; grep ' /dev/null ' /proc/mounts")
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().split()[0] == "4"


def test_user_namespace_without_mappings_is_an_error(runtime, bundle):
    b = bundle(["true"], edit=lambda c: c["linux"]["namespaces"].append({"type": "user"}))
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"linux.uidMappings" in p.stderr


def test_mappings_without_user_namespace_is_an_error(runtime, bundle):
    b = bundle(["true"], edit=lambda c: c["linux"].update(uidMappings=MAP, gidMappings=MAP))
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"user namespace" in p.stderr


def test_hostname_without_uts_namespace_is_an_error(runtime, bundle):
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"]
        c["hostname"] = "x"
    cid = runtime.new_id()
    p = runtime("create", "-b", str(bundle(["true"], edit=edit)), cid)
    assert p.returncode == 1 and b"hostname" in p.stderr and b"UTS" in p.stderr


def test_join_user_namespace_by_path(runtime, bundle):
    first = _mapped_bundle(bundle, "sleep 300")
    a = runtime.new_id()
    runtime("run", "-d", "-b", str(first), a, check=True)
    pid = runtime.state(a)["pid"]

    def edit(c):
        c["linux"]["namespaces"].append({"type": "user", "path": f"/proc/{pid}/ns/user"})
    b = bundle(["sh", "-c", "readlink /proc/self/ns/user; cat /proc/self/uid_map"], edit=edit)
    _chown_tree(b / "rootfs", 100000, 100000)
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode().splitlines()
    assert out[0] == os.readlink(f"/proc/{pid}/ns/user")
    assert out[1].split() == ["0", "100000", "65536"]


def test_time_namespace_offsets(runtime, bundle):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 0},
                                     "boottime": {"secs": 172800, "nanosecs": 5}}
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    out = ok(runtime, bundle, "cat /proc/uptime; cat /proc/self/timens_offsets; readlink /proc/self/ns/time", edit)
    lines = out.splitlines()
    inside = float(lines[0].split()[0])
    # /proc/uptime follows CLOCK_BOOTTIME: two days ahead, give or take the test's own run time.
    assert 172800 <= inside - host_uptime < 172800 + 60
    offsets = {ln.split()[0]: ln.split()[1:] for ln in lines[1:3]}
    assert offsets == {"monotonic": ["86400", "0"], "boottime": ["172800", "5"]}
    assert lines[3] != os.readlink("/proc/self/ns/time")


def test_time_offsets_without_time_namespace_is_an_error(runtime, bundle):
    b = bundle(["true"], edit=lambda c: c["linux"].update(timeOffsets={"monotonic": {"secs": 1}}))
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"linux.timeOffsets" in p.stderr


def test_bad_uid_map_fails_cleanly(runtime, bundle):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "user"})
        # overlapping ranges: the kernel refuses the map
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 10},
                                     {"containerID": 5, "hostID": 200000, "size": 10}]
        c["linux"]["gidMappings"] = MAP
    rc, out, err = run_sh(runtime, bundle, "true", edit)
    assert rc == 1 and "uid_map" in err
