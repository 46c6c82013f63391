"""rlimits and oom_score_adj of the container's process."""

from __future__ import annotations

import resource  # a small C module: cheap to import

# Linux's numbering (asm-generic/resource.h); the resource module lacks some names (RLIMIT_LOCKS).
RLIMITS = {name: i for i, name in enumerate((
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"))}
_INFINITY = 2**64 - 1


def _value(v: int) -> int:
    # The spec's uint64 max means unlimited; Python's resource module spells it RLIM_INFINITY (-1).
    return resource.RLIM_INFINITY if v >= _INFINITY else v


def apply_rlimits(rlimits: tuple) -> None:
    for r in rlimits:
        try:
            resource.setrlimit(RLIMITS[r.type], (_value(r.soft), _value(r.hard)))
        except (ValueError, OSError) as e:
            # runc's wording; podman users see it when containers.conf asks for more than the hard limit.
            reason = "operation not permitted" if isinstance(e, ValueError) else (e.strerror or str(e)).lower()
            raise OSError(getattr(e, "errno", 1) or 1, f"error setting rlimit type {r.type[7:].lower()}: {reason}") from None


def set_oom_score_adj(value: int) -> None:
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(value))
