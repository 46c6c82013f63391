"""Capabilities: names <-> numbers, and applying the five sets of process.capabilities.

Order matters and follows runc: the bounding set is reduced while we still hold CAP_SETPCAP,
then (after setuid, with PR_SET_KEEPCAPS) capset() sets effective/permitted/inheritable, and
ambient capabilities are raised last (they must be in permitted and inheritable).
"""

from __future__ import annotations

from .syscalls import consts as C

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
NUMBERS = {name: i for i, name in enumerate(NAMES)}


_last_cap: int | None = None


def last_cap() -> int:
    # Read once per process: mask(), drop_bounding() and apply_sets() all ask, on the exec path too.
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
                _last_cap = int(f.read())
        except OSError:
            _last_cap = len(NAMES) - 1
    return _last_cap


def unknown(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n not in NUMBERS]


def mask(names: tuple[str, ...]) -> int:
    """Bit mask of the known names; names the running kernel lacks are dropped, as runc does."""
    top = last_cap()
    m = 0
    for n in names:
        i = NUMBERS[n]
        if i <= top:
            m |= 1 << i
    return m


def drop_bounding(sc, keep: int) -> None:
    for i in range(last_cap() + 1):
        if not keep & (1 << i):
            sc.prctl(C.PR_CAPBSET_DROP, i)


def apply_sets(sc, effective: int, permitted: int, inheritable: int, ambient: int) -> None:
    sc.capset(effective, permitted, inheritable)
    if ambient:
        sc.prctl(C.PR_CAP_AMBIENT, C.PR_CAP_AMBIENT_CLEAR_ALL)
        for i in range(last_cap() + 1):
            if ambient & (1 << i):
                try:
                    sc.prctl(C.PR_CAP_AMBIENT, C.PR_CAP_AMBIENT_RAISE, i)
                except OSError as e:
                    # The kernel refuses an ambient cap not also inheritable and permitted. `runc spec`
                    # asks for exactly that, and runc (gocapability) carries on: so do we.
                    if e.errno not in (1, 22):  # EPERM, EINVAL
                        raise
