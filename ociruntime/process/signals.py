"""Signals around execve: what CPython changed must not reach the container's process."""

from __future__ import annotations

import signal


def reset_for_exec() -> None:
    # CPython ignores SIGPIPE and SIGXFSZ at start-up; ignored dispositions survive execve, and
    # a shell pipeline in the container would misbehave. Handlers are reset by execve anyway,
    # but reset all to be explicit, then unblock everything.
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def parse(value: str | None) -> int:
    """A signal as runc accepts it: 9, KILL, SIGKILL, sigkill. Default SIGTERM."""
    from ..errors import PyociError

    if value is None or value == "":
        return signal.SIGTERM
    v = value.strip()
    if v.isdigit():
        n = int(v)
        if 0 < n < signal.NSIG:
            return n
        raise PyociError(f"invalid signal: {value}")
    name = v.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    sig = getattr(signal.Signals, name, None) if name.isidentifier() else None
    if sig is None:
        if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
            return _rt(name, value)
        raise PyociError(f"unknown signal {value!r}")
    return int(sig)


def _rt(name: str, value: str) -> int:
    from ..errors import PyociError

    base, _, off = name.partition("+") if "+" in name else name.partition("-")
    try:
        n = int(off) if off else 0
    except ValueError:
        raise PyociError(f"unknown signal {value!r}") from None
    sig = signal.SIGRTMIN + n if base == "SIGRTMIN" else signal.SIGRTMAX - n
    if not signal.SIGRTMIN <= sig <= signal.SIGRTMAX:
        raise PyociError(f"unknown signal {value!r}")
    return int(sig)
