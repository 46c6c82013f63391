"""Call order of the rootfs and capability recipes, against the recording fake syscall layer."""

from __future__ import annotations

import inspect

import pytest

from ociruntime import capabilities
from ociruntime.rootfs import mounts, pivot
from ociruntime.syscalls import consts as C
from ociruntime.syscalls.fake import FakeSyscalls
from ociruntime.syscalls.linux import LinuxSyscalls


def test_fake_mirrors_the_real_layer():
    for name, fn in inspect.getmembers(LinuxSyscalls, inspect.isfunction):
        if not name.startswith("_"):
            assert hasattr(FakeSyscalls, name), name


def test_pivot_root_sequence(monkeypatch):
    monkeypatch.setattr("os.chdir", lambda p: None)
    sc = FakeSyscalls()
    pivot.pivot(sc, "/bundle/rootfs")
    # pivot_root(".", "."), make the old root a slave so its unmount cannot reach the host, detach it
    assert sc.calls == [("pivot_root", (".", ".")),
                        ("mount", (None, ".", None, C.MS_SLAVE | C.MS_REC, None)),
                        ("umount2", (".", C.MNT_DETACH))]


def test_pivot_failure_propagates(monkeypatch):
    monkeypatch.setattr("os.chdir", lambda p: None)
    sc = FakeSyscalls(fail={"pivot_root": OSError(22, "Invalid argument")})
    with pytest.raises(OSError):
        pivot.pivot(sc, "/r")
    assert sc.names() == ["pivot_root"]


def test_no_pivot_moves_and_chroots(monkeypatch):
    monkeypatch.setattr("os.chdir", lambda p: None)
    monkeypatch.setattr("os.chroot", lambda p: None)
    sc = FakeSyscalls()
    pivot.move_and_chroot(sc, "/r")
    assert sc.calls == [("mount", ("/r", "/", None, C.MS_MOVE, None))]


@pytest.mark.parametrize("options,flags,data", [
    (("nosuid", "noexec", "nodev", "mode=755", "size=65536k"), C.MS_NOSUID | C.MS_NOEXEC | C.MS_NODEV,
     ["mode=755", "size=65536k"]),
    (("rbind", "ro"), C.MS_BIND | C.MS_REC | C.MS_RDONLY, []),
    (("ro", "rw"), 0, []),
    (("noatime", "atime"), 0, []),
    (("newinstance", "ptmxmode=0666", "gid=5"), 0, ["newinstance", "ptmxmode=0666", "gid=5"]),
])
def test_mount_options_table(options, flags, data):
    plan = mounts.parse_options(options)
    assert plan.flags == flags and plan.data == data


def test_recursive_and_propagation_options():
    plan = mounts.parse_options(("rbind", "rro", "rnosuid", "rshared", "tmpcopyup"))
    assert plan.rec_set == C.MOUNT_ATTR_RDONLY | C.MOUNT_ATTR_NOSUID
    assert plan.propagation == [C.MS_SHARED | C.MS_REC]
    assert plan.extensions == {"tmpcopyup"}
    plan = mounts.parse_options(("rro", "rrw"))
    assert plan.rec_set == 0 and plan.rec_clr == C.MOUNT_ATTR_RDONLY


def test_capabilities_drop_bounding_then_set(monkeypatch):
    monkeypatch.setattr(capabilities, "last_cap", lambda: 40)
    sc = FakeSyscalls()
    keep = capabilities.mask(("CAP_KILL", "CAP_CHOWN"))
    capabilities.drop_bounding(sc, keep)
    dropped = [a[1] for a in sc.of("prctl")]
    assert 5 not in dropped and 0 not in dropped and len(dropped) == 39
    sc = FakeSyscalls()
    capabilities.apply_sets(sc, keep, keep, 0, 1 << 5)
    assert sc.names() == ["capset", "prctl", "prctl"]
    assert sc.of("prctl")[-1] == (C.PR_CAP_AMBIENT, C.PR_CAP_AMBIENT_RAISE, 5)


def test_lsm_attribute_writes_only_reach_procfs(tmp_path):
    """A label write whose /proc path was covered by something else (a bind mount to a regular
    file) must fail instead of writing there (procattrs._write_attr)."""
    from ociruntime import procattrs
    from ociruntime.errors import SetupError

    target = tmp_path / "current"
    target.write_text("")
    with pytest.raises(SetupError, match="not on procfs"):
        procattrs._write_attr(str(target), "label", "process.apparmorProfile")
    assert target.read_text() == ""
