"""cgroupsPath semantics and host layout detection, on fake trees (no root needed)."""

from __future__ import annotations

import os

import pytest

from ociruntime import cgroups
from ociruntime.cgroups import paths
from ociruntime.errors import ConfigError

SELF_CGROUP = """12:hugetlb:/
11:cpu,cpuacct:/user.slice
9:name=systemd:/user.slice/session-1.scope
4:memory:/process_api/abc
3:pids:/
0::/user.slice/session-1.scope
"""


def make_v1(root, names=("cpu,cpuacct", "memory", "pids", "freezer", "devices", "systemd", "hugetlb"), links=True):
    for n in names:
        d = root / n
        d.mkdir(parents=True)
        (d / "cgroup.procs").write_text("")
        if links and "," in n:
            for c in n.split(","):
                os.symlink(n, root / c)
    return root


def make_unified(d, controllers=""):
    d.mkdir(parents=True, exist_ok=True)
    for f in ("cgroup.controllers", "cgroup.procs", "cgroup.subtree_control"):
        (d / f).write_text("")
    (d / "cgroup.controllers").write_text(controllers + "\n")
    return d


@pytest.fixture
def proc_cgroup(tmp_path):
    p = tmp_path / "self-cgroup"
    p.write_text(SELF_CGROUP)
    return str(p)


@pytest.mark.parametrize("raw, clean", [
    ("", ""), ("/a/b", "/a/b"), ("/a/../b", "/b"), ("/../../x", "/x"), ("a/b/", "a/b"),
    ("../../etc", "etc"), ("a/../../b", "b"), ("./a", "a"),
])
def test_clean_path_never_climbs_out(raw, clean):
    assert paths.clean_path(raw) == clean


@pytest.mark.parametrize("slice_, path", [
    ("system.slice", "/system.slice"),
    ("machine-foo.slice", "/machine.slice/machine-foo.slice"),
    ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"),
    ("-.slice", "/"),
])
def test_expand_slice_like_systemd(slice_, path):
    assert paths.expand_slice(slice_) == path


@pytest.mark.parametrize("bad", ["system", "a--b.slice", "-a.slice", "a/b.slice", ".slice", "x.slic"])
def test_expand_slice_rejects_bad_names(bad):
    with pytest.raises(ConfigError, match="invalid slice name"):
        paths.expand_slice(bad)


def test_systemd_paths():
    assert paths.systemd_path("system.slice:docker:123", "x") == "/system.slice/docker-123.scope"
    assert paths.systemd_path("machine-x.slice:crio:abc", "x") == "/machine.slice/machine-x.slice/crio-abc.scope"
    assert paths.systemd_path(":pfx:n", "x") == "/system.slice/pfx-n.scope"          # "" slice = system.slice
    assert paths.systemd_path("user.slice::n", "x") == "/user.slice/n.scope"         # no prefix
    assert paths.systemd_path("system.slice:p:sub.slice", "x") == "/system.slice/sub.slice"
    assert paths.systemd_path(None, "myid") == "/system.slice/pyoci-myid.scope"    # absent path
    with pytest.raises(ConfigError, match='"slice:prefix:name"'):
        paths.systemd_path("/not/systemd", "x")


def test_inner_path_forms():
    assert paths.inner_path("cid", None, False) == "cid"                 # default: relative <id>
    assert paths.inner_path("cid", "", False) == "cid"
    assert paths.inner_path("cid", "/libpod_parent/libpod-cid", False) == "/libpod_parent/libpod-cid"
    assert paths.inner_path("cid", "k8s/pod/cid", False) == "k8s/pod/cid"
    # Without --systemd-cgroup, colons are just characters of a relative name (runc too).
    assert paths.inner_path("cid", "system.slice:x:y", False) == "system.slice:x:y"
    assert paths.inner_path("cid", "system.slice:x:y", True) == "/system.slice/x-y.scope"


def test_detect_v1_folds_comounted_symlinks(tmp_path):
    make_v1(tmp_path)
    mode, v1, uni = paths.detect(str(tmp_path))
    assert mode == "v1" and uni is None
    assert v1 == {"cpu,cpuacct": "cpu,cpuacct", "devices": "devices", "freezer": "freezer",
                  "hugetlb": "hugetlb", "memory": "memory", "pids": "pids", "systemd": "name=systemd"}


def test_detect_hybrid_and_v2(tmp_path):
    make_v1(tmp_path / "h")
    make_unified(tmp_path / "h" / "unified")
    assert paths.detect(str(tmp_path / "h"))[0] == "hybrid"
    make_unified(tmp_path / "v2", "cpu memory pids")
    (tmp_path / "v2" / "memory").mkdir()          # a cgroup named like a controller is not a hierarchy
    mode, v1, uni = paths.detect(str(tmp_path / "v2"))
    assert (mode, v1, uni) == ("v2", {}, str(tmp_path / "v2"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no cgroup hierarchy"):
        paths.detect(str(tmp_path / "empty"))


def test_absolute_path_in_every_hierarchy(tmp_path, proc_cgroup):
    make_v1(tmp_path)
    make_unified(tmp_path / "unified")
    d = paths.resolve("cid", "/a/b", False, str(tmp_path), proc_cgroup)
    assert d["mode"] == "hybrid" and d["path"] == "/a/b"
    assert d["v1"]["memory"] == f"{tmp_path}/memory/a/b"
    assert d["v1"]["cpu,cpuacct"] == f"{tmp_path}/cpu,cpuacct/a/b"
    assert d["v1"]["systemd"] == f"{tmp_path}/systemd/a/b"
    assert d["unified"] == f"{tmp_path}/unified/a/b"


def test_relative_path_under_own_cgroup_per_hierarchy(tmp_path, proc_cgroup):
    make_v1(tmp_path)
    make_unified(tmp_path / "unified")
    d = paths.resolve("cid", "rel/x", False, str(tmp_path), proc_cgroup)
    assert d["v1"]["memory"] == f"{tmp_path}/memory/process_api/abc/rel/x"
    assert d["v1"]["cpu,cpuacct"] == f"{tmp_path}/cpu,cpuacct/user.slice/rel/x"
    assert d["v1"]["systemd"] == f"{tmp_path}/systemd/user.slice/session-1.scope/rel/x"
    assert d["v1"]["pids"] == f"{tmp_path}/pids/rel/x"
    assert d["v1"]["freezer"] == f"{tmp_path}/freezer/rel/x"          # not in /proc/self/cgroup: root
    assert d["unified"] == f"{tmp_path}/unified/user.slice/session-1.scope/rel/x"
    # absent cgroupsPath: the container id, relative
    d = paths.resolve("cid", None, False, str(tmp_path), proc_cgroup)
    assert d["v1"]["memory"] == f"{tmp_path}/memory/process_api/abc/cid"


def test_relative_on_pure_v2_goes_under_parent_of_own(tmp_path, proc_cgroup):
    make_unified(tmp_path, "cpu memory")
    d = paths.resolve("cid", None, False, str(tmp_path), proc_cgroup)
    # own cgroup /user.slice/session-1.scope holds processes: runc uses its parent
    assert d["unified"] == f"{tmp_path}/user.slice/cid"
    assert d["v1"] == {}


def test_for_container_describe_roundtrip(tmp_path, proc_cgroup):
    make_v1(tmp_path)
    make_unified(tmp_path / "unified", "hugetlb")
    m = cgroups.for_container("cid", "/x", {"pids": {"limit": 5}, "devices": [{"allow": False}]},
                              root=str(tmp_path), _proc_cgroup=proc_cgroup)
    d = m.describe()
    assert d["freeze"] == f"{tmp_path}/freezer/x/freezer.state"
    assert d["uctl"] == ["hugetlb"]
    assert d["resources"] == {"pids": {"limit": 5}}              # devices are not kept
    import json

    m2 = cgroups.reopen(json.loads(json.dumps(d)))
    assert m2.describe() == d and m2.dirs() == m.dirs()
    assert sorted(m.dirs()) == sorted({f"{tmp_path}/{n}/x" for n in
                                       ("cpu,cpuacct", "memory", "pids", "freezer", "devices", "systemd",
                                        "hugetlb", "unified")})


def test_freeze_file_falls_back_to_cgroup2(tmp_path, proc_cgroup):
    make_v1(tmp_path, names=("memory", "pids"))
    make_unified(tmp_path / "unified")
    m = cgroups.for_container("cid", "/x", None, root=str(tmp_path), _proc_cgroup=proc_cgroup)
    assert m.describe()["freeze"] == f"{tmp_path}/unified/x/cgroup.freeze"
    make_v1(tmp_path / "only1", names=("memory",))
    m = cgroups.for_container("cid", "/x", None, root=str(tmp_path / "only1"), _proc_cgroup=proc_cgroup)
    assert m.describe()["freeze"] is None


def test_is_frozen_reads_the_one_file(tmp_path):
    f1 = tmp_path / "freezer.state"
    f2 = tmp_path / "cgroup.freeze"
    for content, want in (("THAWED\n", False), ("FROZEN\n", True), ("FREEZING\n", True)):
        f1.write_text(content)
        assert cgroups.is_frozen({"freeze": str(f1)}) is want
    for content, want in (("0\n", False), ("1\n", True)):
        f2.write_text(content)
        assert cgroups.is_frozen({"freeze": str(f2)}) is want
    assert cgroups.is_frozen({}) is False
    assert cgroups.is_frozen({"freeze": str(tmp_path / "gone" / "cgroup.freeze")}) is False
