"""linux.devices (issue 3 item 4): mknod with fileMode/uid/gid, or bound from the host in a user namespace."""

from __future__ import annotations

from tests.integration.test_inside import ok, run_sh
from tests.integration.test_namespaces import _chown_tree, _userns


def _devices(c):
    c["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 5, "gid": 6},
        {"path": "/dev/loop-test0", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/sub/dir/null2", "type": "c", "major": 1, "minor": 3},
        {"path": "/dev/myfifo", "type": "p"},
    ]


def test_devices_created_with_mode_and_owner(runtime, bundle):
    out = ok(runtime, bundle, "ls -ln /dev/fuse /dev/loop-test0 /dev/sub/dir/null2 /dev/myfifo", _devices)
    lines = {ln.split()[-1]: ln.split() for ln in out.splitlines()}
    fuse = lines["/dev/fuse"]
    assert fuse[0] == "crw-r-----" and fuse[2:4] == ["5", "6"] and fuse[4:6] == ["10,", "229"]
    loop = lines["/dev/loop-test0"]
    assert loop[0] == "brw-------" and loop[4:6] == ["7,", "0"]
    assert lines["/dev/sub/dir/null2"][0] == "crw-rw-rw-"
    assert lines["/dev/myfifo"][0].startswith("p")


def test_device_override_of_default(runtime, bundle):
    def edit(c):
        c["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600}]
    out = ok(runtime, bundle, "ls -l /dev/null; echo x > /dev/null && echo WRITE-OK", edit)
    assert out.startswith("crw-------") and "WRITE-OK" in out


def test_devices_in_user_namespace_are_bound_from_host(runtime, bundle):
    def edit(c):
        _userns(c)
        c["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    b = bundle(["sh", "-c", "ls -ln /dev/fuse /dev/null; grep -E ' /dev/(fuse|null) ' /proc/mounts | wc -l"],
               edit=edit)
    _chown_tree(b / "rootfs", 100000, 100000)
    cid = runtime.new_id()
    p = runtime("run", "-b", str(b), cid)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode().splitlines()
    assert out[0].startswith("c") and "10," in out[0]
    assert out[-1].strip() == "2"                  # both are bind mounts of the host's nodes


def test_device_outside_dev_is_rejected(runtime, bundle):
    rc, out, err = run_sh(runtime, bundle, "true", lambda c: c["linux"].update(
        devices=[{"path": "/etc/evil", "type": "c", "major": 1, "minor": 3}]))
    assert rc == 1 and "linux.devices[0].path" in err


def test_device_path_escaping_dev_is_rejected(runtime, bundle):
    rc, out, err = run_sh(runtime, bundle, "true", lambda c: c["linux"].update(
        devices=[{"path": "/dev/../etc/evil", "type": "c", "major": 1, "minor": 3}]))
    assert rc == 1 and "linux.devices[0].path" in err


def test_existing_file_at_device_path_is_an_error(runtime, bundle):
    """config-linux.md: a file at `path` that does not match the requested device is an error."""
    def edit(c):
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev"]
        c["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    b = bundle(["true"], edit=edit)
    (b / "rootfs" / "dev" / "fuse").write_text("not a device")
    cid = runtime.new_id()
    p = runtime("create", "-b", str(b), cid)
    assert p.returncode == 1 and b"fuse" in p.stderr
    assert runtime("state", cid).returncode == 1
