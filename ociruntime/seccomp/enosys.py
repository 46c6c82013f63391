"""runc's -ENOSYS stub: syscalls newer than every syscall the profile names fail with ENOSYS.

With a deny-by-default profile written before, say, clone3 or faccessat2 existed, those
syscalls would get the default EPERM, and glibc treats EPERM as final instead of falling back
to the old syscall. runc (libcontainer/seccomp/patchbpf) therefore prepends a small cBPF
program: for each architecture listed in `architectures`, a syscall number above the largest
one the profile mentions returns ENOSYS; everything else falls through to libseccomp's filter.
Like runc it is skipped for permissive default actions (ALLOW, LOG, TRACE).
"""

from __future__ import annotations

import struct

from .names import AUDIT_ARCH_X86_64, SECCOMP_RET_ERRNO, X32_SYSCALL_BIT

ENOSYS = 38

# cBPF opcodes (linux/filter.h)
LD_W_ABS = 0x20     # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15
JGT_K = 0x25
JSET_K = 0x45
JA = 0x05
RET_K = 0x06

OFF_NR, OFF_ARCH = 0, 4          # struct seccomp_data: int nr; __u32 arch; ...

S390 = (0x16, 0x80000016)        # AUDIT_ARCH_S390(X): unknown syscalls arrive as setup(2) = 0


def _assemble(prog: list[tuple]) -> bytes:
    """prog: (code, k, jt, jf) with jt/jf/k possibly label names; labels are ("label", name)."""
    where: dict[str, int] = {}
    insns: list[tuple] = []
    for item in prog:
        if item[0] == "label":
            where[item[1]] = len(insns)
        else:
            insns.append(item)
    out = bytearray()
    for i, (code, k, jt, jf) in enumerate(insns):
        def rel(x: object) -> int:
            return where[x] - (i + 1) if isinstance(x, str) else int(x)
        if code == JA:
            k = rel(k)
        jt, jf = rel(jt), rel(jf)
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise ValueError("seccomp ENOSYS stub: jump out of range")
        out += struct.pack("=HBBI", code, jt, jf, k)
    return bytes(out)


def stub(maxima: dict[int, int], x32_token: int) -> bytes:
    """maxima: libseccomp arch token -> largest syscall number named for it (tokens are
    AUDIT_ARCH_* values except x32, which is x86_64 with bit 30 set in the number)."""
    by_audit: dict[int, list[tuple[str, int]]] = {}
    for token, nr in maxima.items():
        if token == x32_token:
            by_audit.setdefault(AUDIT_ARCH_X86_64, []).append(("x32", nr))
        elif token == AUDIT_ARCH_X86_64:
            by_audit.setdefault(AUDIT_ARCH_X86_64, []).append(("amd64", nr))
        else:
            by_audit.setdefault(token, []).append(("any", nr))
    if not by_audit:
        return b""
    enosys = SECCOMP_RET_ERRNO | ENOSYS
    prog: list[tuple] = [(LD_W_ABS, OFF_ARCH, 0, 0)]
    for a, (audit, cases) in enumerate(sorted(by_audit.items())):
        nxt, fail, go = f"next{a}", f"enosys{a}", f"filter{a}"
        prog += [(JEQ_K, audit, 0, nxt), (LD_W_ABS, OFF_NR, 0, 0)]
        if audit in S390:
            prog.append((JEQ_K, 0, fail, 0))
        cases.sort()                                   # "amd64" before "x32"
        for c, (mode, nr) in enumerate(cases):
            other = f"case{a}.{c + 1}" if c + 1 < len(cases) else go
            prog.append(("label", f"case{a}.{c}"))
            if mode == "amd64":          # x32 numbers belong to the next case (or the filter)
                prog.append((JSET_K, X32_SYSCALL_BIT, other, 0))
            elif mode == "x32":
                prog.append((JSET_K, X32_SYSCALL_BIT, 0, other))
            prog.append((JGT_K, nr, fail, go))
        prog += [("label", fail), (RET_K, enosys, 0, 0),
                 ("label", go), (JA, "filter", 0, 0),
                 ("label", nxt)]
    prog.append(("label", "filter"))
    return _assemble(prog)
