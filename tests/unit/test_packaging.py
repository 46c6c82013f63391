"""The built package carries the OCI schemas, and an installed (non-editable) pyoci finds and uses them.

Builds offline from a copy of the project (the shared tree gets no build/ or egg-info): a real wheel
when the `wheel` package is importable, from the venv or Debian's python3-wheel (setuptools < 70 has
no bdist_wheel of its own); otherwise setuptools' build_py, which selects the same files.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from ociruntime.config import schema

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(REPO, "spec")


def _wheel_path(tmp: str) -> str | None:
    """A PYTHONPATH entry that makes `wheel` importable for the build, or None."""
    import importlib.util

    if importlib.util.find_spec("wheel") is not None:
        return ""
    debian = "/usr/lib/python3/dist-packages"
    meta = glob.glob(os.path.join(debian, "wheel-*.egg-info")) + glob.glob(os.path.join(debian, "wheel-*.dist-info"))
    if not os.path.isdir(os.path.join(debian, "wheel")) or not meta:
        return None
    # Only wheel itself (and its metadata, which registers bdist_wheel): not Debian's pip or setuptools.
    path = os.path.join(tmp, "wheelpath")
    os.mkdir(path)
    for item in [os.path.join(debian, "wheel")] + meta:
        os.symlink(item, os.path.join(path, os.path.basename(item)))
    return path


def _copy_project(dest: str) -> str:
    src = os.path.join(dest, "src")
    os.mkdir(src)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if os.path.exists(os.path.join(REPO, name)):
            shutil.copy(os.path.join(REPO, name), src)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    shutil.copytree(os.path.join(REPO, "ociruntime"), os.path.join(src, "ociruntime"), symlinks=True, ignore=junk)
    shutil.copytree(SPEC, os.path.join(src, "spec"), ignore=junk)
    return src


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """(a site dir holding the built ociruntime, the file names the build produced)."""
    tmp = str(tmp_path_factory.mktemp("packaging"))
    src = _copy_project(tmp)
    site = os.path.join(tmp, "site")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    wheel_path = _wheel_path(tmp)
    if wheel_path is not None:
        if wheel_path:
            env["PYTHONPATH"] = wheel_path
        out = os.path.join(tmp, "out")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", out, src],
                       env=env, check=True, capture_output=True)
        (whl,) = glob.glob(os.path.join(out, "ociruntime-*.whl"))
        with zipfile.ZipFile(whl) as z:
            names = z.namelist()
            z.extractall(site)
    else:
        subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "-d", site],
                       cwd=src, env=env, check=True, capture_output=True)
        names = [os.path.relpath(os.path.join(d, f), site).replace(os.sep, "/")
                 for d, _, files in os.walk(site) for f in files]
    return site, names


def test_build_carries_schemas_vectors_and_license(installed: tuple[str, list[str]]) -> None:
    _, names = installed
    expected = {"ociruntime/spec/" + os.path.relpath(p, SPEC).replace(os.sep, "/")
                for p in glob.glob(os.path.join(SPEC, "**", "*"), recursive=True) if os.path.isfile(p)}
    assert {"ociruntime/spec/config-schema.json", "ociruntime/spec/LICENSE", "ociruntime/spec/PROVENANCE",
            "ociruntime/spec/test/config/good/spec-example.json", "ociruntime/spec/test/state/bad/invalid-json.json"} <= expected
    assert expected <= set(names), sorted(expected - set(names))
    assert {"ociruntime/config/schema.py", "ociruntime/config/schema_tables.py"} <= set(names)


def test_installed_copy_finds_and_uses_its_schemas(installed: tuple[str, list[str]]) -> None:
    site, _ = installed
    # -S: no site-packages, so neither the editable install's path entry nor /work/main is importable;
    # the venv's site-packages is appended by hand for jsonschema (the error path).
    code = f"""
import sys
sys.path[:0] = [{site!r}]
sys.path.append({sysconfig.get_paths()["purelib"]!r})
import ociruntime
from ociruntime.config import schema
from ociruntime.errors import ConfigError
assert ociruntime.__file__.startswith({site!r}), ociruntime.__file__
d = schema.spec_dir()
assert d == {os.path.join(site, "ociruntime", "spec")!r}, d
with open(d + "/test/config/good/spec-example.json", "rb") as f:
    schema.validate(schema.parse_json(f.read()))
try:
    schema.validate({{"ociVersion": "1.3.0", "mounts": [{{"destination": 5}}]}})
except ConfigError as e:
    print(e)
"""
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=site, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "config.json: mounts[0].destination: 5 is not of type 'string'\n"


def test_source_checkout_finds_the_repo_spec() -> None:
    assert os.path.samefile(schema.spec_dir(), SPEC)
