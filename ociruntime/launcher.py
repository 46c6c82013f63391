"""Rewrite pip's `pyoci` console script into a faster equivalent:

    #!/opt/pyoci/bin/python3 -IS

-S skips the `site` module (~3 ms of every start-up here: site-packages scanning, .pth files,
Debian's sitecustomize), which matters because a runtime is spawned several times per container;
the script puts the two directories site would have added on sys.path itself. -I ignores
PYTHON* variables and the user site directory: a root runtime must not import code a caller
points it at (conmon and the shim pass their environment through).

    python3 -m ociruntime.launcher /opt/pyoci/bin/pyoci      (install.sh does this)
"""

from __future__ import annotations

import os
import sys

TEMPLATE = """#!{python} -IS
# pyoci's console script, rewritten by `python3 -m ociruntime.launcher` (see ociruntime/launcher.py):
# the same entry point without the site module, and immune to PYTHON* variables.
import gc, os, sys
gc.disable()   # a short-lived process that makes no reference cycles worth collecting
sys.path[:0] = {paths!r}
from ociruntime.cli import main
rc = main()
try:
    sys.stdout.flush()
    sys.stderr.flush()
except (OSError, ValueError):
    rc = rc or 1
os._exit(rc)   # no interpreter teardown (~1.5 ms): nothing is left to clean up but memory
"""


def script_text(python: str) -> str:
    import ociruntime
    import site

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(ociruntime.__file__)))
    paths = [package_parent] + [p for p in site.getsitepackages() if p != package_parent]
    return TEMPLATE.format(python=python, paths=paths)


def write(path: str, python: str | None = None) -> None:
    python = python or sys.executable
    if not os.path.isabs(python):
        raise SystemExit(f"interpreter path must be absolute: {python}")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(script_text(python))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


if __name__ == "__main__":
    write(sys.argv[1])
