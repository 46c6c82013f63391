"""ociruntime.specgen.default_spec against the real `runc spec` and the runtime-spec JSON schema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT4

from ociruntime import SPEC_VERSION
from ociruntime.specgen import default_spec, dumps

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
RUNC = shutil.which("runc")
needs_runc = pytest.mark.skipif(RUNC is None, reason="runc is not installed")


def config_validator() -> jsonschema.Draft4Validator:
    """config-schema.json with its relative $refs (defs.json, defs-linux.json, ...) resolved by file name."""
    docs = {p.name: json.loads(p.read_text()) for p in SPEC_DIR.glob("*.json")}
    registry = Registry().with_resources((n, DRAFT4.create_resource(d)) for n, d in docs.items())
    return jsonschema.Draft4Validator(docs["config-schema.json"], registry=registry)


def runc_spec(tmp_path: Path, *flags: str) -> str:
    """The text `runc spec [flags]` writes, run as this process's user (--rootless maps our euid)."""
    subprocess.run([RUNC, "spec", *flags], cwd=tmp_path, check=True, capture_output=True, timeout=30)
    return (tmp_path / "config.json").read_text()


@needs_runc
@pytest.mark.parametrize("rootless", [False, True], ids=["default", "rootless"])
def test_equals_runc_spec_apart_from_version(tmp_path: Path, rootless: bool) -> None:
    theirs = json.loads(runc_spec(tmp_path, *(["--rootless"] if rootless else [])))
    assert theirs["ociVersion"] != SPEC_VERSION  # runc 1.1 says 1.0.2-dev: the one intended difference
    ours = default_spec(rootless=rootless)
    assert ours["ociVersion"] == "1.3.0"
    theirs["ociVersion"] = ours["ociVersion"]
    assert ours == theirs


@needs_runc
@pytest.mark.parametrize("rootless", [False, True], ids=["default", "rootless"])
def test_serialisation_is_byte_identical_to_runc(tmp_path: Path, rootless: bool) -> None:
    theirs = runc_spec(tmp_path, *(["--rootless"] if rootless else []))
    version = json.loads(theirs)["ociVersion"]
    expected = theirs.replace(f'"ociVersion": "{version}"', f'"ociVersion": "{SPEC_VERSION}"', 1)
    assert dumps(default_spec(rootless=rootless)) == expected


def test_rootless_maps_effective_ids() -> None:
    linux = default_spec(rootless=True)["linux"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    types = [ns["type"] for ns in linux["namespaces"]]
    assert "network" not in types and types[-1] == "user"
    assert "resources" not in linux


@pytest.mark.parametrize("rootless", [False, True], ids=["default", "rootless"])
def test_valid_against_config_schema(rootless: bool) -> None:
    validator = config_validator()
    spec = default_spec(rootless=rootless)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(spec)]
    assert errors == []
    # The validator is live and follows the $refs into defs.json: a bad mount is rejected.
    spec["mounts"][0]["destination"] = 5
    assert [e.message for e in validator.iter_errors(spec)] == ["5 is not of type 'string'"]


def test_args_and_terminal() -> None:
    spec = default_spec(args=["echo", "hi"], terminal=False)
    assert spec["process"]["args"] == ["echo", "hi"]
    assert spec["process"]["terminal"] is False
    plain = default_spec()
    assert plain["process"]["args"] == ["sh"] and plain["process"]["terminal"] is True


def test_each_call_returns_a_fresh_document() -> None:
    args = ["true"]
    first = default_spec(args=args)
    first["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    first["mounts"][0]["options"] = ["ro"]
    first["process"]["args"].append("x")
    second = default_spec()
    assert "CAP_SYS_ADMIN" not in second["process"]["capabilities"]["bounding"]
    assert "options" not in second["mounts"][0]
    assert args == ["true"]


def test_import_is_cheap() -> None:
    # specgen is imported by `pyoci spec` and the bundle builder: data only, stdlib `os` only
    # (and __future__, which every ociruntime module imports anyway).
    code = ("import sys, __future__; before = set(sys.modules); import ociruntime.specgen; "
            "print(sorted(m for m in set(sys.modules) - before if not m.startswith('ociruntime')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=SPEC_DIR.parent).stdout
    assert json.loads(out.replace("'", '"')) == []
