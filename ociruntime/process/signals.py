"""Signals: names as runc accepts them, and what CPython changed that must not reach the container.

Uses the C module `_signal` directly: `import signal` builds IntEnums (enum, functools,
collections: ~5 ms here), paid by every `pyoci kill`.
"""

from __future__ import annotations

import _signal

NSIG = _signal.NSIG
SIGKILL, SIGSTOP, SIGCHLD, SIGTERM = _signal.SIGKILL, _signal.SIGSTOP, _signal.SIGCHLD, _signal.SIGTERM
_NAMES = {n: getattr(_signal, n) for n in dir(_signal) if n.startswith("SIG") and not n.startswith("SIG_")}


def reset_for_exec() -> None:
    # CPython ignores SIGPIPE and SIGXFSZ at start-up; ignored dispositions survive execve, and
    # a shell pipeline in the container would misbehave. Reset every disposition, unblock all.
    for sig in range(1, NSIG):
        if sig in (SIGKILL, SIGSTOP):
            continue
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def set_all(handler, skip: tuple[int, ...] = (SIGKILL, SIGSTOP, SIGCHLD)) -> None:
    """Install handler (a function, SIG_DFL or SIG_IGN) for every catchable signal but `skip`."""
    for sig in range(1, NSIG):
        if sig not in skip:
            try:
                _signal.signal(sig, handler)
            except (OSError, ValueError):
                pass


SIG_DFL = _signal.SIG_DFL


def parse(value: str | None) -> int:
    """A signal as runc accepts it: 9, KILL, SIGKILL, sigkill, RTMIN+3. Default SIGTERM."""
    from ..errors import PyociError

    if value is None or value == "":
        return SIGTERM
    v = value.strip()
    if v.isdigit():
        n = int(v)
        if 0 < n < NSIG:
            return n
        raise PyociError(f"invalid signal: {value}")
    name = v.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name in _NAMES and name not in ("SIGRTMIN", "SIGRTMAX"):
        return _NAMES[name]
    for base, sign in (("SIGRTMIN", 1), ("SIGRTMAX", -1)):
        if name == base or name.startswith(base + ("+" if sign > 0 else "-")):
            off = name[len(base) + 1:]
            if off and not off.isdigit():
                break
            sig = _NAMES[base] + sign * int(off or 0)
            if _signal.SIGRTMIN <= sig <= _signal.SIGRTMAX:
                return sig
    raise PyociError(f"unknown signal {value!r}")
