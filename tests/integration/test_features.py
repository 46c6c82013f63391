"""pyoci features (issue 5 item 4): valid against spec/features-schema.json, and honest: it lists
what pyoci applies and nothing it refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PYOCI, REPO

SPEC = REPO / "spec"


@pytest.fixture(scope="module")
def doc() -> dict:
    p = subprocess.run([PYOCI, "features"], check=False, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _validator():
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = []
    for f in SPEC.glob("*.json"):
        contents = json.loads(f.read_text())
        resources.append((f.name, Resource.from_contents(contents, default_specification=DRAFT4)))
    registry = Registry().with_resources(resources)
    schema = json.loads((SPEC / "features-schema.json").read_text())
    return Draft4Validator(schema, registry=registry)


def test_valid_against_the_schema(doc):
    v = _validator()
    errors = sorted(v.iter_errors(doc), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_schema_check_can_fail(doc):
    bad = dict(doc, linux=dict(doc["linux"], namespaces=["pid", "nosuchns"]))
    assert list(_validator().iter_errors(bad))
    assert list(_validator().iter_errors({"hooks": []}))      # ociVersionMin/Max are required


def test_spec_test_vectors():
    v = _validator()
    for f in (SPEC / "test" / "features" / "good").glob("*.json"):
        assert not list(v.iter_errors(json.loads(f.read_text()))), f.name
    for f in (SPEC / "test" / "features" / "bad").glob("*.json"):
        assert list(v.iter_errors(json.loads(f.read_text()))), f.name


def test_versions_and_hooks(doc):
    from ociruntime import SPEC_VERSION

    assert doc["ociVersionMin"] == "1.0.0" and doc["ociVersionMax"] == SPEC_VERSION
    assert doc["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                            "poststop"]


def test_mount_options_are_the_ones_pyoci_parses(doc):
    from ociruntime.rootfs import mounts

    opts = doc["mountOptions"]
    assert opts == sorted(set(opts))
    for o in opts:
        plan = mounts.parse_options((o,))
        # recognised: a flag, a propagation, a recursive attribute or an extension, never kernel data
        assert plan.data == [], o
    # filesystem data is not a mount option in this sense (features.md); "acl" is not implemented
    assert "size=64k" not in opts and "mode=755" not in opts and "acl" not in opts
    assert {"rro", "rbind", "tmpcopyup", "idmap", "ridmap", "nosymfollow"} <= set(opts)


def test_linux_section(doc):
    from ociruntime import capabilities, namespaces, seccomp

    lx = doc["linux"]
    assert sorted(lx["namespaces"]) == sorted(namespaces.FLAGS)
    assert lx["capabilities"] == list(capabilities.NAMES)
    # seccomp.features() in a process of its own, as `pyoci features` calls it
    code = "import json; from ociruntime import seccomp; print(json.dumps(seccomp.features()))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, cwd=REPO)
    assert lx["seccomp"] == json.loads(p.stdout)
    assert lx["cgroup"]["v1"] and lx["cgroup"]["v2"]
    assert lx["intelRdt"] == {"enabled": False}
    assert lx["mountExtensions"] == {"idmap": {"enabled": True}}
    ver = seccomp.libseccomp_version()
    if ver:
        assert doc["annotations"]["io.github.seccomp.libseccomp.version"] == ver


def test_refused_features_are_not_listed(doc, runtime, bundle):
    """What features says is off, create refuses (and the reverse for a sample that is on)."""
    assert doc["linux"]["intelRdt"]["enabled"] is False
    b = bundle(["true"], edit=lambda c: c["linux"].update(intelRdt={"closID": "x"}))
    p = runtime("create", "-b", str(b), runtime.new_id())
    assert p.returncode == 1 and b"intelRdt" in p.stderr
    assert doc["linux"]["selinux"]["enabled"] is False
    b = bundle(["true"], edit=lambda c: c["linux"].update(mountLabel="system_u:object_r:container_file_t:s0"))
    p = runtime("create", "-b", str(b), runtime.new_id())
    assert p.returncode == 1 and b"mountLabel" in p.stderr
    # listed, and accepted: the time namespace, an idmap-less recursive option
    assert "time" in doc["linux"]["namespaces"] and "rro" in doc["mountOptions"]

    def edit(c):
        c["linux"]["namespaces"].append({"type": "time"})
        c["mounts"].append({"destination": "/mnt", "type": "bind", "source": "/etc", "options": ["rbind", "rro"]})
    cid = runtime.new_id()
    p = runtime("run", "-b", str(bundle(["sh", "-c", "readlink /proc/self/ns/time; touch /mnt/x"], edit=edit)), cid)
    assert p.stdout.strip().decode() != os.readlink("/proc/self/ns/time")
    assert b"Read-only file system" in p.stderr


def test_features_needs_no_root():
    # the document describes pyoci, not the host: nothing in it needs privileges
    argv = [PYOCI, "features"]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    p = subprocess.run(argv, check=False, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["ociVersionMax"]
