"""`pyoci spec`: the starter config.json runc users know, and runc's refusal to overwrite one."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYOCI
from tests.unit.test_specgen import config_validator

RUNC = shutil.which("runc")


def pyoci(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([PYOCI, *args], capture_output=True, text=True, timeout=60, check=False, **kw)


@pytest.mark.parametrize("rootless", [False, True], ids=["default", "rootless"])
def test_writes_a_schema_valid_config(tmp_path: Path, rootless: bool) -> None:
    p = pyoci("spec", "--bundle", str(tmp_path), *(["--rootless"] if rootless else []))
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert list(config_validator().iter_errors(cfg)) == []
    assert cfg["ociVersion"] == "1.3.0"
    assert ({"type": "user"} in cfg["linux"]["namespaces"]) is rootless


@pytest.mark.skipif(RUNC is None, reason="runc is not installed")
@pytest.mark.parametrize("flags", [[], ["--rootless"]], ids=["default", "rootless"])
def test_same_bytes_as_runc_spec(tmp_path: Path, flags: list[str]) -> None:
    (tmp_path / "runc").mkdir()
    (tmp_path / "pyoci").mkdir()
    subprocess.run([RUNC, "spec", "-b", str(tmp_path / "runc"), *flags], check=True, timeout=30)
    assert pyoci("spec", "-b", str(tmp_path / "pyoci"), *flags).returncode == 0
    theirs = (tmp_path / "runc/config.json").read_text()
    version = json.loads(theirs)["ociVersion"]
    theirs = theirs.replace(f'"ociVersion": "{version}"', '"ociVersion": "1.3.0"', 1)
    assert (tmp_path / "pyoci/config.json").read_text() == theirs


def test_bundle_defaults_to_the_current_directory(tmp_path: Path) -> None:
    assert pyoci("spec", cwd=tmp_path).returncode == 0
    assert (tmp_path / "config.json").is_file()


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_mode_is_0666_less_umask_like_runc(tmp_path: Path, umask: int) -> None:
    assert pyoci("spec", "-b", str(tmp_path), umask=umask).returncode == 0
    assert stat.S_IMODE((tmp_path / "config.json").stat().st_mode) == 0o666 & ~umask


def test_refuses_an_existing_config(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text("mine\n")
    p = pyoci("spec", "--bundle", str(tmp_path))
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "File config.json exists. Remove it first" in lines[0]
    assert p.stdout == ""
    assert cfg.read_text() == "mine\n"


def test_refuses_a_dangling_symlink_and_writes_nothing_through_it(tmp_path: Path) -> None:
    # runc stats (a dangling link "does not exist") and then writes through the link; we refuse.
    target = tmp_path / "elsewhere.json"
    (tmp_path / "b").mkdir()
    os.symlink(target, tmp_path / "b/config.json")
    p = pyoci("spec", "--bundle", str(tmp_path / "b"))
    assert p.returncode == 1 and "File config.json exists" in p.stderr
    assert not target.exists()


def test_refusal_reaches_the_json_log(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    log = tmp_path / "log.json"
    p = pyoci("--log", str(log), "--log-format", "json", "spec", "-b", str(tmp_path))
    assert p.returncode == 1
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error" and "File config.json exists. Remove it first" in last["msg"]


def test_missing_bundle_dir(tmp_path: Path) -> None:
    p = pyoci("spec", "--bundle", str(tmp_path / "nope"))
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"chdir {tmp_path / 'nope'}: no such file or directory" in lines[0]
    assert not (tmp_path / "nope").exists()


def test_rejects_positional_arguments(tmp_path: Path) -> None:
    p = pyoci("spec", "extra", cwd=tmp_path)
    assert p.returncode == 1
    assert not (tmp_path / "config.json").exists()


def test_help(tmp_path: Path) -> None:
    p = pyoci("spec", "--help", cwd=tmp_path)
    assert p.returncode == 0
    for word in ("config.json", "--bundle", "--rootless", "runc spec"):
        assert word in p.stdout
    assert not (tmp_path / "config.json").exists()
