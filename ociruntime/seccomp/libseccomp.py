"""ctypes bindings to libseccomp.so.2 (Debian's libseccomp2), loaded on first use.

Only the parent (create/exec) calls libseccomp: it compiles the profile and exports the BPF;
the container's init loads those bytes with seccomp(2) itself (see load.py), like crun.
"""

from __future__ import annotations

import ctypes

SONAME = "libseccomp.so.2"

# enum scmp_compare (seccomp.h): SCMP_CMP_NE = 1 ... SCMP_CMP_MASKED_EQ = 7.
CMP = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}

# enum scmp_filter_attr: binary-tree syscall dispatch (libseccomp >= 2.5).
FLTATR_CTL_OPTIMIZE = 8

NR_SCMP_ERROR = -1       # __NR_SCMP_ERROR: name unknown to this libseccomp


class ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


_lib: ctypes.CDLL | None = None
_missing = False


def lib() -> ctypes.CDLL | None:
    """The loaded library with prototypes set, or None when libseccomp is not installed."""
    global _lib, _missing
    if _lib is not None or _missing:
        return _lib
    try:
        L = ctypes.CDLL(SONAME, use_errno=True)
    except OSError:
        _missing = True
        return None
    u32, i, p, s = ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
    for name, res, args in (
        ("seccomp_version", ctypes.POINTER(_Version), []),
        ("seccomp_api_get", ctypes.c_uint, []),
        ("seccomp_init", p, [u32]),
        ("seccomp_release", None, [p]),
        ("seccomp_arch_add", i, [p, u32]),
        ("seccomp_arch_native", u32, []),
        ("seccomp_arch_resolve_name", u32, [s]),
        ("seccomp_attr_set", i, [p, ctypes.c_int, u32]),
        ("seccomp_syscall_resolve_name", i, [s]),
        ("seccomp_syscall_resolve_name_arch", i, [u32, s]),
        ("seccomp_rule_add_array", i, [p, u32, i, ctypes.c_uint, ctypes.POINTER(ArgCmp)]),
        ("seccomp_export_bpf", i, [p, i]),
    ):
        fn = getattr(L, name)
        fn.restype, fn.argtypes = res, args
    _lib = L
    return L


def version() -> str | None:
    L = lib()
    if L is None:
        return None
    v = L.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def arch_token(libseccomp_name: str) -> int:
    """SCMP_ARCH_* value for a libseccomp arch name ("x86_64"); 0 when this version lacks it."""
    L = lib()
    return 0 if L is None else L.seccomp_arch_resolve_name(libseccomp_name.encode())
