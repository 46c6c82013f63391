"""The "seccomp" object of `pyoci features`: what libseccomp and this kernel actually support."""

from __future__ import annotations

from . import libseccomp as S
from . import names as N
from .load import kernel_flag_supported


def _kernel_actions() -> set[str] | None:
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail") as f:
            return set(f.read().split())
    except OSError:
        return None                  # kernels before 4.14: assume the classic set works


def seccomp_features() -> dict:
    L = S.lib()
    if L is None:
        return {"enabled": False}
    avail = _kernel_actions()
    # SCMP_ACT_NOTIFY also needs libseccomp API level 6 (libseccomp >= 2.5, Linux >= 5.7).
    actions = sorted(a for a, k in N.KERNEL_ACTION.items()
                     if (avail is None or k in avail) and (a != "SCMP_ACT_NOTIFY" or L.seccomp_api_get() >= 6))
    nr = L.seccomp_syscall_resolve_name(b"seccomp")
    return {
        "enabled": True,
        "actions": actions,
        "operators": sorted(N.OPERATORS),
        "archs": sorted(a for a in N.ARCHS if S.arch_token(N.libseccomp_arch(a))),
        "knownFlags": list(N.FLAGS),
        "supportedFlags": [name for name, bit in N.FLAGS.items() if kernel_flag_supported(nr, bit)],
    }
