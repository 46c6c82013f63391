"""The fast console script install.sh writes (ociruntime/launcher.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from ociruntime import launcher


def test_launcher_runs_without_site_and_ignores_pythonpath(tmp_path):
    script = tmp_path / "pyoci"
    launcher.write(str(script), sys.executable)
    first = script.read_text().splitlines()[0]
    assert first == f"#!{sys.executable} -IS" and os.path.isabs(sys.executable)
    # A caller's PYTHONPATH must not be able to substitute the runtime's code (it runs as root).
    evil = tmp_path / "evil" / "ociruntime"
    evil.mkdir(parents=True)
    (evil / "__init__.py").write_text("raise SystemExit('imported the impostor')\n")
    env = dict(os.environ, PYTHONPATH=str(evil.parent))
    p = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("pyoci version ")
    # No PATH at all (podman's cleanup process): still starts.
    p = subprocess.run([str(script), "--root", str(tmp_path / "r"), "state", "x"], capture_output=True, text=True,
                       env={}, timeout=60)
    assert p.returncode == 1 and "container does not exist" in p.stderr
