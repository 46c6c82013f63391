"""OCI hooks: each runs with the container state JSON on stdin, its args and env, and a timeout.

Which process runs which hook is the lifecycle's business (protocol.py): prestart and
createRuntime in the runtime's namespaces, createContainer and startContainer inside the
container, poststart by `start`, poststop by `delete`.
"""

from __future__ import annotations

from . import jsonio
from .errors import PyociError


class HookError(PyociError):
    pass


def run(kind: str, hooks, state: dict, on_error=None) -> None:
    """Run the hooks of one kind in order. The first failure raises HookError naming it, unless
    on_error is given (poststop): then each failure goes to on_error and the rest still run."""
    for i, h in enumerate(hooks or ()):
        try:
            _run_one(kind, i, h, state)
        except HookError as e:
            if on_error is None:
                raise
            on_error(e)


def _run_one(kind: str, i: int, h, state: dict) -> None:
    import subprocess

    argv = list(h.args) or [h.path]
    try:
        p = subprocess.run(argv, executable=h.path, input=jsonio.dumps(state).encode(),
                           env=dict(e.split("=", 1) for e in h.env), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=h.timeout, close_fds=True)
    except subprocess.TimeoutExpired:
        raise HookError(f"{kind} hook #{i} ({h.path}): timed out after {h.timeout}s") from None
    except OSError as e:
        raise HookError(f"{kind} hook #{i} ({h.path}): {(e.strerror or str(e)).lower()}") from None
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip().splitlines()
        detail = f": {err[-1]}" if err else ""
        raise HookError(f"{kind} hook #{i} ({h.path}) exited with status {p.returncode}{detail}")


def state_dict(container_id: str, status: str, pid: int, bundle: str, annotations: dict | None) -> dict:
    from . import SPEC_VERSION

    d = {"ociVersion": SPEC_VERSION, "id": container_id, "status": status, "pid": pid, "bundle": bundle}
    if annotations:
        d["annotations"] = annotations
    return d


