"""Seccomp: compile linux.seccomp with libseccomp in the runtime, load the BPF in init.

Imported by `--version` and `features`: nothing heavy at import (ctypes only inside functions).
  prepare(seccomp)      runtime, create/exec: validate + compile -> Filter (ConfigError naming the field)
  Filter.load()         container init: seccomp(2); returns the notify fd or None
  take_listener_fd()    runtime: copy that fd out of init (pidfd_getfd), then Filter.send_listener()
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .load import Filter


def libseccomp_version() -> str | None:
    """"2.5.4", or None when libseccomp.so.2 is absent."""
    from .libseccomp import version

    return version()


def prepare(seccomp: dict, cache_dir: str | None = None) -> "Filter":
    """Validate the linux.seccomp object and compile it to BPF. libseccomp takes ~20 ms for
    podman's profile; with `cache_dir` (a root-only directory, e.g. <root>/.cache/seccomp as
    crun has) a profile seen before costs ~1 ms. Raises ConfigError naming the field."""
    from .compile import compile_profile

    return compile_profile(seccomp, cache_dir)


def take_listener_fd(pid: int, remote_fd: int) -> int:
    """The runtime's copy of init's notify fd number `remote_fd` (pidfd_getfd, as runc does)."""
    from .load import take_listener_fd as take

    return take(pid, remote_fd)


def features() -> dict:
    """The "seccomp" object of `pyoci features` (features-linux.json): only what works here."""
    from .support import seccomp_features

    return seccomp_features()


def __getattr__(name: str):
    if name == "Filter":
        from .load import Filter

        return Filter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
